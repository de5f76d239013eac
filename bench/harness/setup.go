package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"hashsign/hashsvc"
	"hashsign/hashsvc/hashsvctest"
	"hashsign/internal/devpki"
	"hashsign/signer"
	"hashsign/signer/pkcs11"
	"hashsign/signer/remote"
)

// softhsmModule is the SoftHSM2 PKCS #11 module of Debian's softhsm2.
const softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"

// p12Password protects the PKCS #12 file of the peers; the key is the
// development key, public anyway.
const p12Password = "bench"

// env is what the measurements use: binaries, the development service,
// keys, tokens and the peers' key stores.
type env struct {
	root, work string
	pades      string // the built cmd/pades
	hashsvc    string // the built cmd/hashsvc
	dev        *hashsvctest.Dev
	devPKI     string // the development PKI's directory
	chain      string // the intermediate CA certificate (PEM)
	trust      string // the root (PEM)
	apiKeyFile string
	// childEnv is the environment of the commands measured
	// (SOFTHSM2_CONF for the token).
	childEnv []string

	// keys are the crypto.Signers whose raw rate is a limit, by limit key
	// (keyRSA, keyP256, keySoftHSM).
	keys map[string]crypto.Signer
	pool *pkcs11.Pool
	// softhsmURI names the token's key; empty when SoftHSM2 is missing.
	softhsmURI string

	// The peers' key stores: an NSS database for pdfsig (with the
	// nickname of the key), a PKCS #12 file for mutool.
	nssDir, nssNick, p12 string

	// missing holds, by tool, why it cannot be measured.
	missing map[string]string

	// libSigners are the signers of the library cells, by signer name,
	// made once.
	libSigners map[string]libSigner
}

// libSigner is a signer of the library cells and its batch size.
type libSigner struct {
	s    signer.Signer
	size int
}

// Limit keys: the key behind each signer.
const (
	keyRSA     = "rsa-2048 key file"
	keyP256    = "p-256 key file"
	keySoftHSM = "rsa-2048 softhsm"
)

// setup builds the binaries, starts the development service and prepares
// the keys. close must be called.
func setup(ctx context.Context, o options, work string) (*env, error) {
	e := &env{work: work, keys: map[string]crypto.Signer{}, missing: map[string]string{}, libSigners: map[string]libSigner{}}
	root, err := moduleRoot()
	if err != nil {
		return e, err
	}
	e.root = root
	bin := filepath.Join(work, "bin")
	e.pades, e.hashsvc = filepath.Join(bin, "pades"), filepath.Join(bin, "hashsvc")
	o.log.Printf("building cmd/pades and cmd/hashsvc")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator), "./cmd/pades", "./cmd/hashsvc")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return e, fmt.Errorf("go build: %v\n%s", err, out)
	}

	devDir := filepath.Join(work, "dev")
	e.dev, err = hashsvctest.TryStartDev(e.hashsvc, devDir, "127.0.0.1:0")
	if err != nil {
		return e, err
	}
	o.log.Printf("hashsvc serve -dev at %s", e.dev.URL)
	e.devPKI = filepath.Join(devDir, "pki")
	e.chain = filepath.Join(devDir, "chain.pem")
	e.trust = filepath.Join(devDir, "root.pem")
	e.apiKeyFile = filepath.Join(devDir, hashsvc.DevAPIKeyFile)
	e.childEnv = os.Environ()
	for _, k := range []struct{ id, key, cert string }{
		{keyRSA, devpki.SignerRSAKeyFile, devpki.SignerRSACertFile},
		{keyP256, devpki.SignerP256KeyFile, devpki.SignerP256CertFile},
	} {
		s, err := signer.LoadKeyFile(filepath.Join(e.devPKI, k.key), filepath.Join(e.devPKI, k.cert), e.chain)
		if err != nil {
			return e, err
		}
		e.keys[k.id] = s
	}

	if _, err := os.Stat(timeBin); err != nil {
		e.missing["time"] = fmt.Sprintf("%s (GNU time) is missing (apt-get install time): the peak RSS figures include the harness's own", timeBin)
		o.log.Printf("%s", e.missing["time"])
	}
	if err := e.setupSoftHSM(ctx, work); err != nil {
		e.missing["softhsm"] = err.Error()
		o.log.Printf("SoftHSM signer not measured: %v", err)
	}
	if err := e.setupPeers(ctx, work); err != nil {
		return e, err
	}
	for tool, why := range e.missing {
		if isPeer(tool) {
			o.log.Printf("peer %s not measured: %s", tool, why)
		}
	}
	return e, nil
}

// close stops the development service and closes the token.
func (e *env) close() {
	if e.pool != nil {
		e.pool.Close()
	}
	if e.dev != nil {
		e.dev.Kill()
	}
}

// keyFile returns the flags of pades for the development key of type kind
// ("rsa" or "p256") as a key file.
func (e *env) keyFile(kind string) []string {
	key, cert := devpki.SignerRSAKeyFile, devpki.SignerRSACertFile
	if kind == "p256" {
		key, cert = devpki.SignerP256KeyFile, devpki.SignerP256CertFile
	}
	return []string{"-key", filepath.Join(e.devPKI, key), "-cert", filepath.Join(e.devPKI, cert), "-chain", e.chain}
}

// opensslKeyArgs returns the flags of openssl cms -sign for the
// development RSA key file.
func (e *env) opensslKeyArgs() []string {
	return []string{"-signer", filepath.Join(e.devPKI, devpki.SignerRSACertFile), "-inkey", filepath.Join(e.devPKI, devpki.SignerRSAKeyFile),
		"-certfile", e.chain}
}

// libSigner returns the signer of the library cells named name, and its
// batch size: a key file, or hashsvc -dev over loopback.
func (e *env) libSigner(ctx context.Context, name string) (signer.Signer, int, error) {
	if ls, ok := e.libSigners[name]; ok {
		return ls.s, ls.size, nil
	}
	var ls libSigner
	switch name {
	case "keyfile-rsa", "keyfile-p256":
		key := map[string]string{"keyfile-rsa": keyRSA, "keyfile-p256": keyP256}[name]
		s, ok := e.keys[key].(signer.Signer)
		if !ok {
			return nil, 0, fmt.Errorf("no signer for the %s", key)
		}
		ls.s = s
	case "remote-rsa-b64":
		c, err := remote.NewClient(e.dev.URL, remote.Options{APIKey: e.dev.APIKey})
		if err != nil {
			return nil, 0, err
		}
		s, err := remote.NewSigner(ctx, c, "dev-rsa")
		if err != nil {
			return nil, 0, fmt.Errorf("the remote signer: %w", err)
		}
		ls = libSigner{s: s, size: 64}
	default:
		return nil, 0, fmt.Errorf("no library signer %q", name)
	}
	e.libSigners[name] = ls
	return ls.s, ls.size, nil
}

// setupSoftHSM makes a SoftHSM2 token in work holding the development RSA
// key and opens it for the raw-rate limit.
func (e *env) setupSoftHSM(ctx context.Context, work string) error {
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return fmt.Errorf("softhsm2-util is missing (apt-get install softhsm2): %w", err)
	}
	if _, err := os.Stat(softhsmModule); err != nil {
		return fmt.Errorf("the SoftHSM2 module is missing (apt-get install softhsm2): %w", err)
	}
	dir := filepath.Join(work, "softhsm")
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	cfg := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		return err
	}
	// The module reads SOFTHSM2_CONF when it is loaded: in this process
	// (the raw-rate limit) and in the children.
	os.Setenv("SOFTHSM2_CONF", conf)
	e.childEnv = append(e.childEnv, "SOFTHSM2_CONF="+conf)
	const pin = "1234"
	for _, args := range [][]string{
		{"--init-token", "--free", "--label", "bench", "--pin", pin, "--so-pin", "5678"},
		{"--import", filepath.Join(e.devPKI, devpki.SignerRSAKeyFile), "--token", "bench", "--label", "signer", "--id", "01", "--pin", pin},
	} {
		cmd := exec.CommandContext(ctx, util, args...)
		cmd.Env = e.childEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("softhsm2-util %s: %v: %s", args[0], err, bytes.TrimSpace(out))
		}
	}
	e.softhsmURI = "pkcs11:token=bench;object=signer?module-path=" + softhsmModule + "&pin-value=" + pin
	certs, err := hashsvc.LoadCertificates(filepath.Join(e.devPKI, devpki.SignerRSACertFile))
	if err != nil {
		return err
	}
	chain, err := hashsvc.LoadCertificates(e.chain)
	if err != nil {
		return err
	}
	e.pool = &pkcs11.Pool{}
	s, err := e.pool.Open(ctx, e.softhsmURI, &pkcs11.OpenOptions{Certificates: certs, Chain: chain})
	if err != nil {
		e.softhsmURI = ""
		return fmt.Errorf("opening the token: %w", err)
	}
	e.keys[keySoftHSM] = s
	return nil
}

// setupPeers prepares the key stores of pdfsig and mutool, and records
// which of them are missing.
func (e *env) setupPeers(ctx context.Context, work string) error {
	for _, p := range []struct{ engine, tool, pkg string }{
		{engPdfsig, "pdfsig", "poppler-utils"}, {engMutool, "mutool", "mupdf-tools"}, {engOpenSSL, "openssl", "openssl"},
	} {
		if _, err := exec.LookPath(p.tool); err != nil {
			e.missing[p.engine] = fmt.Sprintf("%s is not installed (the harness installs no peer: apt-get install %s)", p.tool, p.pkg)
		}
	}
	if e.missing["pdfsig"] == "" && e.missing["mutool"] != "" {
		return nil
	}
	pki, err := devpki.LoadDir(e.devPKI)
	if err != nil {
		return err
	}
	p12, err := pkcs12.Modern.Encode(pki.SignerRSA.Key, pki.SignerRSA.Cert, []*x509.Certificate{pki.Intermediate.Cert}, p12Password)
	if err != nil {
		return fmt.Errorf("encoding the PKCS #12 file of the peers: %w", err)
	}
	e.p12 = filepath.Join(work, "signer.p12")
	if err := os.WriteFile(e.p12, p12, 0o600); err != nil {
		return err
	}
	if e.missing["pdfsig"] != "" {
		return nil
	}
	for _, tool := range []string{"certutil", "pk12util"} {
		if _, err := exec.LookPath(tool); err != nil {
			e.missing["pdfsig"] = fmt.Sprintf("%s, needed for pdfsig's NSS database, is not installed (apt-get install libnss3-tools)", tool)
			return nil
		}
	}
	e.nssDir = filepath.Join(work, "nss")
	if err := os.Mkdir(e.nssDir, 0o700); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"certutil", "-N", "-d", "sql:" + e.nssDir, "--empty-password"},
		{"pk12util", "-i", e.p12, "-d", "sql:" + e.nssDir, "-W", p12Password},
	} {
		if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	// The key's certificate is the one with user trust (u,u,u).
	out, err := exec.CommandContext(ctx, "certutil", "-L", "-d", "sql:"+e.nssDir).Output()
	if err != nil {
		return fmt.Errorf("certutil -L: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " ")
		if nick, ok := strings.CutSuffix(line, "u,u,u"); ok {
			e.nssNick = strings.TrimSpace(nick)
		}
	}
	if e.nssNick == "" {
		return fmt.Errorf("certutil -L lists no certificate with a key:\n%s", out)
	}
	return nil
}

// moduleRoot returns the directory of the hashsign module that holds the
// working directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %w (run the harness from within the hashsign module)", err)
	}
	path, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if path != "hashsign" || dir == "" {
		return "", errors.New("run the harness from within the hashsign module")
	}
	return dir, nil
}

// procCPU returns the CPU time (user and system) in seconds that the
// running process pid has used: the sum of its threads' run times in
// /proc/PID/task/*/schedstat, in nanoseconds. /proc/PID/stat counts in
// clock ticks of 10 ms, too coarse for a quick run of a few documents,
// which read 0 s; it is the fallback when the threads cannot be read.
func procCPU(pid int) float64 {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err == nil && len(tasks) > 0 {
		var ns int64
		read := 0
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue // a thread that ended meanwhile
			}
			f := strings.Fields(string(b))
			if len(f) == 0 {
				continue
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				continue
			}
			ns += n
			read++
		}
		if read > 0 {
			return float64(ns) / 1e9
		}
	}
	return procStatCPU(pid)
}

// procStatCPU returns the CPU time of pid from /proc/PID/stat, in clock
// ticks.
func procStatCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return (utime + stime) / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat, which is 100 on Linux.
const clockTicks = 100
