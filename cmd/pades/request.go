package main

// `pades request` asks people to sign PDFs through hashsvc's signature
// requests. The PDFs stay here: each step is prepared locally and only its
// hashes go to the service.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"hashsign/csc"
	"hashsign/internal/atomicfile"
	"hashsign/pades"
	"hashsign/pades/request"
)

// signerFlag collects -signer id=...,name=...,email=... flags.
type signerFlag struct {
	signers []csc.RequestSigner
	fields  []string
}

func (s *signerFlag) String() string { return fmt.Sprint(len(s.signers), " signers") }

func (s *signerFlag) Set(v string) error {
	var sg csc.RequestSigner
	var field string
	for part := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return fmt.Errorf("%q: want key=value pairs (id, name, email, phone, otp, credential, field)", part)
		}
		switch strings.TrimSpace(k) {
		case "id":
			sg.ID = val
		case "name":
			sg.Name = val
		case "email":
			sg.Email = val
		case "phone":
			sg.Phone = val
		case "otp":
			sg.OTP = val
		case "credential":
			sg.CredentialID = val
		case "field":
			field = val
		default:
			return fmt.Errorf("unknown key %q (want id, name, email, phone, otp, credential, field)", k)
		}
	}
	if sg.ID == "" {
		sg.ID = sg.Email
	}
	if sg.ID == "" {
		return fmt.Errorf("%q: give id= or email=", v)
	}
	s.signers = append(s.signers, sg)
	s.fields = append(s.fields, field)
	return nil
}

func cmdRequest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("request", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var (
		rf      remoteFlags
		lf      ltvFlags
		cf      commonFlags
		signers signerFlag
		hooks   listFlag
		ff      fieldFlags
	)
	rf.register(fs)
	ff.registerAppearance(fs)
	lf.register(fs, "B-LT", "B-B, B-T, B-LT (default) or B-LTA")
	cf.register(fs)
	fs.Var(&signers, "signer", "a signer, in order: `id=ID,name=NAME,email=ADDR[,phone=NUMBER][,otp=email|sms|totp][,credential=ID][,field=FIELD]`, repeatable")
	fs.Var(&hooks, "callback", "URL that receives each state change of the request, repeatable")
	sender := fs.String("sender", "", "who asks, as the signers see it (required)")
	message := fs.String("message", "", "a message to the signers")
	order := fs.String("order", csc.OrderSequential, "sequential or parallel")
	expires := fs.Duration("expires", 7*24*time.Hour, "how long the request stays open")
	viewURL := fs.String("view-url", "", "where the signers can see the documents at the sender's (shown on the consent page)")
	out := fs.String("out", "", "directory of the signed files (with several inputs)")
	poll := fs.Duration("poll", 2*time.Second, "wait between two looks at a step the signer has not answered")
	verbose := fs.Bool("v", false, "say on standard error what happens (the consent links, each step)")
	evidence := fs.String("evidence", "", "write the evidence record of the completed request to `FILE`")
	pos, err := parseFlags(fs, args, "(IN.pdf OUT.pdf | -out DIR IN.pdf...)")
	if err != nil {
		return err
	}
	if !rf.set() {
		return usagef("give -remote URL of the hashsvc")
	}
	// the appearance of visible signatures (in visible fields named by
	// field=): each shows its own signer's name, from their certificate
	fo, err := ff.options(cf.page)
	if err != nil {
		return err
	}
	if *sender == "" || len(signers.signers) == 0 {
		return usagef("give -sender and at least one -signer")
	}
	var docs []request.Document
	switch {
	case *out != "" && len(pos) > 0:
		for _, in := range pos {
			docs = append(docs, request.Document{Name: filepath.Base(in), In: in, Out: filepath.Join(*out, filepath.Base(in))})
		}
	case *out == "" && len(pos) == 2:
		if err := checkPaths(pos[0], pos[1]); err != nil {
			return err
		}
		docs = []request.Document{{Name: filepath.Base(pos[0]), In: pos[0], Out: pos[1]}}
	default:
		return usagef("give IN.pdf OUT.pdf, or -out DIR and the inputs")
	}
	for i := range docs {
		docs[i].ViewURL = *viewURL
		docs[i].Fields = signers.fields
	}
	lvl, err := lf.build()
	if err != nil {
		return err
	}
	h, err := cf.hashAlg()
	if err != nil {
		return err
	}
	pw, err := cf.pdfPassword()
	if err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	c, err := rf.service(log)
	if err != nil {
		return err
	}
	opts := &request.Options{
		Level: lvl.level, TSA: lvl.timestamper(), Validation: lvl.fetcher, Hash: h, Info: cf.info(), Password: pw, Poll: *poll,
		Progress: func(p request.Progress) {
			if !*verbose {
				return
			}
			switch p.Event {
			case "created":
				fmt.Fprintf(stderr, "request %s created\n", p.Request)
			case "hashes-sent":
				fmt.Fprintf(stderr, "signer %d (%s): waiting for consent at %s\n", p.Step, p.Signer, p.ConsentURL)
			case "signed":
				fmt.Fprintf(stderr, "signer %d (%s): signed and embedded\n", p.Step, p.Signer)
			}
		},
		// A visible field named by a signer's field= shows that signer's
		// name (from the certificate of their step) in this appearance.
		Adjust: func(step, doc int, o *pades.SignOptions) { o.Page, o.Appearance = cf.page, fo.appearance },
	}
	create := csc.CreateRequest{
		Sender: *sender, Message: *message, Order: *order, Expires: time.Now().Add(*expires), Level: lvl.level.String(),
		Signers: signers.signers, CallbackURLs: hooks,
	}
	st, err := request.Run(ctx, c, create, docs, opts)
	if err != nil {
		return err
	}
	if *evidence != "" {
		data, err := c.Evidence(ctx, st.ID)
		if err != nil {
			return err
		}
		f, err := atomicfile.Create(*evidence)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Abort()
			return fmt.Errorf("writing %s: %w", *evidence, err)
		}
		if err := f.Commit(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "request %s completed: %d signers\n", st.ID, len(st.Signers))
	for _, d := range docs {
		fmt.Fprintf(stdout, "  %s\n", d.Out)
	}
	return nil
}
