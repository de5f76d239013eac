package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"hashsign/hashsvc"
	"hashsign/signer/pkcs11"
)

// cmdTOTPEnrol is `hashsvc totp enrol`.
func cmdTOTPEnrol(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("totp enrol", flag.ContinueOnError)
	config := fs.String("config", "", "YAML configuration file")
	person := fs.String("person", "", "the signer's id (signer.id of an explicit credential, or its credential id)")
	account := fs.String("account", "", "the name shown in the authenticator app, such as an e-mail address")
	if err := parseFlags(fs, args, ""); err != nil {
		return err
	}
	if *config == "" || *person == "" || *account == "" {
		return usagef("give -config, -person and -account")
	}
	cfg, err := hashsvc.LoadConfig(*config)
	if err != nil {
		return err
	}
	pool := &pkcs11.Pool{}
	defer pool.Close()
	srv, err := hashsvc.New(ctx, hashsvc.Options{Config: cfg, KeyOpeners: keyOpeners(pool), OneTimeKeys: oneTimeKeys(cfg, pool)})
	if err != nil {
		return err
	}
	defer srv.Close()
	uri, err := srv.EnrolTOTP(ctx, *person, *account)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", uri)
	return nil
}

// cmdPINHash is `hashsvc pin hash`: one line of stdin, the PIN.
func cmdPINHash(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("pin hash", flag.ContinueOnError)
	if err := parseFlags(fs, args, "Reads the PIN from standard input and prints its bcrypt hash for signer.pin_bcrypt.\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pin := strings.TrimRight(line, "\r\n")
	if len(pin) < 4 {
		return errors.New("the PIN must have at least 4 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pin), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", h)
	return nil
}
