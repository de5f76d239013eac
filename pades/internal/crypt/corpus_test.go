package crypt

// Tests against real encrypted files: the shared corpus and files that qpdf
// encrypts. qpdf supplies the /Encrypt values and /ID, says which password
// is the owner password, and gives the plaintext of strings and streams,
// which must match what the Handler decrypts from the raw bytes of the file.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"hashsign/internal/testenv"
)

// corpusDir is the shared corpus, relative to this package's directory.
const corpusDir = "../../../../shared/corpus"

// needCorpus returns the corpus directory and the qpdf executable, skipping
// the test when either is missing, except under CI where that fails it.
func needCorpus(t *testing.T) (dir, qpdf string) {
	t.Helper()
	testenv.Need(t, filepath.Join(corpusDir, "manifest.tsv"), "the corpus is ../shared/corpus")
	return corpusDir, testenv.Need(t, "qpdf", "apt-get install qpdf")
}

// qpdfRun runs qpdf and returns its standard output. Exit status 3 (success
// with warnings) counts as success.
func qpdfRun(t *testing.T, qpdf string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(qpdf, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		err = nil
	}
	if err != nil {
		t.Fatalf("qpdf %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// qpdfObject returns object num (or "trailer") of file as qpdf shows it,
// decrypted with password.
func qpdfObject(t *testing.T, qpdf, file, password, num string) (any, bool) {
	t.Helper()
	out := qpdfRun(t, qpdf, "--password="+password, "--show-object="+num, file)
	obj, isStream, err := parseQPDFObject(out)
	if err != nil {
		t.Fatalf("parsing qpdf --show-object=%s: %v\n%s", num, err, out)
	}
	return obj, isStream
}

// encryption reads the /Encrypt dictionary and the first /ID element of file
// through qpdf. It returns the encryption dictionary's object number too.
func encryption(t *testing.T, qpdf, file, password string) (Params, []byte, int) {
	t.Helper()
	tr, _ := qpdfObject(t, qpdf, file, password, "trailer")
	trailer, ok := tr.(pdfDict)
	if !ok {
		t.Fatalf("trailer is %T", tr)
	}
	var id0 []byte
	if ids, ok := trailer["ID"].([]any); ok && len(ids) > 0 {
		id0, _ = ids[0].([]byte)
	}
	ref, ok := trailer["Encrypt"].(pdfRef)
	if !ok {
		t.Fatalf("trailer /Encrypt is %#v, want a reference", trailer["Encrypt"])
	}
	obj, _ := qpdfObject(t, qpdf, file, password, strconv.Itoa(ref.num))
	d, ok := obj.(pdfDict)
	if !ok {
		t.Fatalf("/Encrypt is %T", obj)
	}
	p, err := paramsFromDict(d)
	if err != nil {
		t.Fatal(err)
	}
	return p, id0, ref.num
}

// paramsFromDict converts an encryption dictionary as a caller would.
func paramsFromDict(d pdfDict) (Params, error) {
	num := func(k pdfName) int64 {
		n, _ := d[k].(int64)
		return n
	}
	str := func(k pdfName) []byte {
		s, _ := d[k].([]byte)
		return s
	}
	filter, _ := d["Filter"].(pdfName)
	p := Params{
		Filter:          string(filter),
		V:               int(num("V")),
		R:               int(num("R")),
		Length:          int(num("Length")),
		O:               str("O"),
		U:               str("U"),
		OE:              str("OE"),
		UE:              str("UE"),
		Perms:           str("Perms"),
		P:               int32(uint32(num("P"))), // some writers store /P unsigned
		EncryptMetadata: true,
	}
	if b, ok := d["EncryptMetadata"].(bool); ok {
		p.EncryptMetadata = b
	}
	cf, _ := d["CF"].(pdfDict)
	resolve := func(k pdfName) (string, int, error) {
		name, ok := d[k].(pdfName)
		if !ok || name == "Identity" {
			return MethodNone, 0, nil
		}
		f, ok := cf[name].(pdfDict)
		if !ok {
			return "", 0, fmt.Errorf("/%s names /%s, which is not in /CF", k, name)
		}
		cfm, ok := f["CFM"].(pdfName)
		if !ok {
			cfm = MethodNone
		}
		length, _ := f["Length"].(int64)
		return string(cfm), int(length), nil
	}
	var err error
	var strLen int
	if p.StmF, p.CFLength, err = resolve("StmF"); err != nil {
		return p, err
	}
	if p.StrF, strLen, err = resolve("StrF"); err != nil {
		return p, err
	}
	if p.CFLength == 0 {
		p.CFLength = strLen
	}
	return p, nil
}

// qpdfOwner reports whether qpdf says password is the owner password.
func qpdfOwner(t *testing.T, qpdf, file, password string) bool {
	t.Helper()
	out := qpdfRun(t, qpdf, "--password="+password, "--show-encryption", file)
	return bytes.Contains(out, []byte("Supplied password is owner password"))
}

var xrefLine = regexp.MustCompile(`(?m)^(\d+)/(\d+): uncompressed; offset = (\d+)$`)

// checkFile checks password authentication on file, then decrypts strings
// and streams of its uncompressed objects and compares them with qpdf.
// owner is "" when the owner password is unknown.
func checkFile(t *testing.T, qpdf, file, user, owner string) {
	p, id0, encNum := encryption(t, qpdf, file, user)
	t.Logf("V %d R %d Length %d StmF %s StrF %s CFLength %d P %d EncryptMetadata %v, /ID[0] %d bytes",
		p.V, p.R, p.Length, p.StmF, p.StrF, p.CFLength, p.P, p.EncryptMetadata, len(id0))

	// Authentication.
	h, err := Open(p, id0, []byte(user))
	if err != nil {
		t.Fatalf("user password %q: %v", user, err)
	}
	if got, want := h.AuthenticatedAsOwner(), qpdfOwner(t, qpdf, file, user); got != want {
		t.Errorf("user password %q: AuthenticatedAsOwner = %v, qpdf says %v", user, got, want)
	}
	if h.Permissions() != p.P {
		t.Errorf("Permissions() = %d, /P is %d", h.Permissions(), p.P)
	}
	if p.R >= 5 {
		if err := checkPerms(h.key, p.Perms, p.P, p.EncryptMetadata); err != nil {
			t.Errorf("/Perms: %v", err)
		}
	}
	if owner != "" {
		ho, err := Open(p, id0, []byte(owner))
		if err != nil {
			t.Errorf("owner password %q: %v", owner, err)
		} else {
			if !ho.AuthenticatedAsOwner() {
				t.Errorf("owner password %q: not authenticated as owner", owner)
			}
			if !bytes.Equal(ho.key, h.key) {
				t.Errorf("owner password gives another file key")
			}
		}
	}
	for _, wrong := range []string{"wrong", user + "x", strings.ToUpper(user + "q")} {
		_, err := Open(p, id0, []byte(wrong))
		if !errors.Is(err, ErrWrongPassword) || err.Error() != "wrong password" {
			t.Errorf("password %q: error = %v, want wrong password", wrong, err)
		}
	}
	if user != "" {
		_, err := Open(p, id0, nil)
		if !errors.Is(err, ErrWrongPassword) || err.Error() != "a password is needed" {
			t.Errorf("empty password: error = %v, want a password is needed", err)
		}
	}

	// Decryption of real objects.
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	xref := qpdfRun(t, qpdf, "--password="+user, "--show-xref", file)
	const maxStrings, maxStreams = 12, 6
	var nStrings, nStringObjs, nStreams int
	for _, m := range xrefLine.FindAllSubmatch(xref, -1) {
		if nStringObjs >= maxStrings && nStreams >= maxStreams {
			break
		}
		objNum, _ := strconv.Atoi(string(m[1]))
		objGen, _ := strconv.Atoi(string(m[2]))
		off, _ := strconv.Atoi(string(m[3]))
		if objNum == encNum {
			continue // strings of the encryption dictionary are not encrypted
		}
		num, gen, obj, dataStart, err := indirect(raw, off)
		if err != nil || num != objNum || gen != objGen {
			t.Logf("object %d %d at %d: cannot read (%v), skipped", objNum, objGen, off, err)
			continue
		}
		var strs map[string][]byte
		if d, ok := obj.(pdfDict); !ok || d["Type"] != pdfName("XRef") {
			// Cross-reference streams are not encrypted at all.
			strs = collectStrings(obj, nil)
		}
		doStrings := len(strs) > 0 && nStringObjs < maxStrings
		doStream := dataStart >= 0 && nStreams < maxStreams && streamEncrypted(obj, p.EncryptMetadata)
		if !doStrings && !doStream {
			continue
		}
		ref := fmt.Sprintf("%d,%d", num, gen)
		want, _ := qpdfObject(t, qpdf, file, user, ref)
		if doStrings {
			nStringObjs++
			wantStrs := collectStrings(want, nil)
			for path, ct := range strs {
				w, ok := wantStrs[path]
				if !ok {
					t.Logf("object %d %d: qpdf has no string at %s", num, gen, path)
					continue
				}
				got, err := h.DecryptString(num, gen, ct)
				if err != nil || !bytes.Equal(got, w) {
					t.Errorf("object %d %d string %s: decrypts to %q (%v), qpdf gives %q", num, gen, path, got, err, w)
				}
				nStrings++
			}
		}
		if doStream {
			length := streamLength(t, qpdf, file, user, obj)
			if dataStart+length > len(raw) {
				t.Errorf("object %d %d: /Length %d runs past the end of the file", num, gen, length)
				continue
			}
			got, err := h.DecryptStream(num, gen, raw[dataStart:dataStart+length])
			w := qpdfRun(t, qpdf, "--password="+user, "--show-object="+ref, "--raw-stream-data", file)
			if err != nil || !bytes.Equal(got, w) {
				t.Errorf("object %d %d stream: decrypts to %d bytes (%v), qpdf gives %d", num, gen, len(got), err, len(w))
			}
			nStreams++
		}
	}
	t.Logf("decrypted %d strings in %d objects and %d streams", nStrings, nStringObjs, nStreams)
	if nStrings+nStreams == 0 {
		t.Errorf("found no encrypted string or stream to check")
	}
}

// collectStrings maps the path of each encrypted string in obj to its value.
// The /Contents of a signature dictionary is not encrypted and is left out.
func collectStrings(obj any, into map[string][]byte) map[string][]byte {
	if into == nil {
		into = map[string][]byte{}
	}
	var walk func(o any, path string)
	walk = func(o any, path string) {
		switch v := o.(type) {
		case []byte:
			into[path] = v
		case []any:
			for i, e := range v {
				walk(e, fmt.Sprintf("%s[%d]", path, i))
			}
		case pdfDict:
			_, isSig := v["ByteRange"]
			if typ, _ := v["Type"].(pdfName); typ == "Sig" || typ == "DocTimeStamp" {
				isSig = true
			}
			for k, e := range v {
				if isSig && k == "Contents" {
					continue
				}
				walk(e, path+"/"+string(k))
			}
		}
	}
	walk(obj, "")
	return into
}

// streamEncrypted reports whether a stream with dictionary obj is encrypted
// with the stream filter: not cross-reference streams, not streams with
// their own Crypt filter, and not metadata when /EncryptMetadata is false.
func streamEncrypted(obj any, encryptMetadata bool) bool {
	d, ok := obj.(pdfDict)
	if !ok {
		return false
	}
	switch typ, _ := d["Type"].(pdfName); {
	case typ == "XRef", typ == "Metadata" && !encryptMetadata:
		return false
	}
	var filters []any
	switch f := d["Filter"].(type) {
	case pdfName:
		filters = []any{f}
	case []any:
		filters = f
	}
	return !slices.Contains(filters, any(pdfName("Crypt")))
}

// streamLength returns the /Length of a stream, resolving a reference.
func streamLength(t *testing.T, qpdf, file, password string, obj any) int {
	t.Helper()
	l := obj.(pdfDict)["Length"]
	if ref, ok := l.(pdfRef); ok {
		l, _ = qpdfObject(t, qpdf, file, password, fmt.Sprintf("%d,%d", ref.num, ref.gen))
	}
	n, ok := l.(int64)
	if !ok {
		t.Fatalf("stream /Length is %#v", l)
	}
	return int(n)
}

func TestCorpus(t *testing.T) {
	dir, qpdf := needCorpus(t)
	tests := []struct {
		file        string
		user, owner string // owner "" when unknown
	}{
		{"acrobat10_rc4_40_pw_user.pdf", "user", ""},
		{"acrobat10_aes256_pw_user.pdf", "user", ""},
		{"reportbuilder_rc4_40_empty_pw.pdf", "", ""},
		{"acrobatdc_aes256_empty_pw_lin.pdf", "", ""},
		{"rasteredge_aes128_empty_pw_form.pdf", "", ""},
		{"novapdf_rc4_128_pw_test.pdf", "test", "test"},
		{"acrobatdc_aes128_pw_space.pdf", " ", " "},
		{"epo_v12_rc4_40_empty_pw_no_id.pdf", "", ""},
		{"qpdf_rc4_128_pw_view_master.pdf", "view", "master"},
		{"acrobatsign_aes128_certified.pdf", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			checkFile(t, qpdf, filepath.Join(dir, tt.file), tt.user, tt.owner)
		})
	}
}

func TestQPDFEncrypted(t *testing.T) {
	dir, qpdf := needCorpus(t)
	src := filepath.Join(dir, "lo64_acroform_9_fields.pdf")
	tests := []struct {
		name        string
		user, owner string
		opts        []string
	}{
		{"RC4-40", "u40", "o40", []string{"40", "--print=n", "--modify=n"}},
		{"RC4-128", "u128", "o128", []string{"128", "--use-aes=n", "--print=low"}},
		{"RC4-128 V4", "u", "o", []string{"128", "--use-aes=n", "--force-V4"}},
		{"AES-128", "user", "owner", []string{"128", "--use-aes=y", "--extract=n"}},
		{"AES-128 clear metadata", "user", "owner", []string{"128", "--use-aes=y", "--cleartext-metadata"}},
		{"AES-256 R5", "user", "owner", []string{"256", "--force-R5"}},
		{"AES-256 R6", "user", "owner", []string{"256", "--modify=form"}},
		{"AES-256 clear metadata", "user", "owner", []string{"256", "--cleartext-metadata"}},
		{"AES-256 empty user", "", "owner", []string{"256"}},
		{"RC4-128 non-ASCII", "pässwörd", "øwner€", []string{"128", "--use-aes=n"}},
		{"AES-128 non-ASCII", "pässwörd", "øwner€", []string{"128", "--use-aes=y"}},
		{"AES-256 non-ASCII", "pässwörd", "øwner€", []string{"256"}},
	}
	tmp := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(tmp, fmt.Sprintf("enc%d.pdf", i))
			args := []string{"--allow-weak-crypto", "--object-streams=disable",
				"--encrypt", tt.user, tt.owner}
			args = append(args, tt.opts...)
			args = append(args, "--", src, out)
			qpdfRun(t, qpdf, args...)
			checkFile(t, qpdf, out, tt.user, tt.owner)
		})
	}
}
