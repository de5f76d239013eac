package pades_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"

	"hashsign/hashsvc/devtrust"
	"hashsign/internal/devpki"
	"hashsign/ltv"
	"hashsign/pades"
	"hashsign/signer"
	"hashsign/testdata/pdfgen"
)

// Example signs a PDF file at PAdES B-LTA: the signature with its
// timestamp, the validation data in the /DSS, and a document timestamp
// over it all. The TSA, OCSP responder, CRLs and issuer certificates are
// development services on 127.0.0.1 (hashsvc/devtrust), with a test PKI
// whose certificates point at them.
func Example() {
	ctx := context.Background()

	// The trust services: the PKI needs the server's URL, the server the
	// PKI's services.
	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	defer srv.Close()
	pki, err := devpki.Generate(devpki.Options{BaseURL: srv.URL})
	if err != nil {
		log.Fatal(err)
	}
	services, err := devtrust.New(pki, devtrust.Options{})
	if err != nil {
		log.Fatal(err)
	}
	handler.Store(services.Handler())

	// The document and the signer (a key file, a PKCS#11 token or a
	// remote hashsvc would do as well).
	doc, err := pdfgen.Bytes(pdfgen.Table, pdfgen.Options{})
	if err != nil {
		log.Fatal(err)
	}
	in, err := os.CreateTemp("", "example-*.pdf")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(in.Name())
	if _, err := in.Write(doc); err != nil {
		log.Fatal(err)
	}
	s, err := signer.New(pki.SignerP256.Key, pki.Chain(pki.SignerP256))
	if err != nil {
		log.Fatal(err)
	}

	out, err := os.CreateTemp("", "example-signed-*.pdf")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(out.Name())
	res, err := pades.Sign(ctx, in, int64(len(doc)), out, s, &pades.SignOptions{
		Level:      pades.LevelBLTA,
		Info:       pades.SignatureInfo{Reason: "approved"},
		TSA:        &ltv.TSAClient{URLs: []string{srv.URL + devtrust.TSAPath}},
		Validation: &ltv.Fetcher{Roots: pki.RootPool()},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := out.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("signed field %s at %v\n", res.Field, res.Level)

	// What the file holds now.
	f, err := os.Open(out.Name())
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	rep, err := pades.Inspect(ctx, f, res.Size, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d revisions\n", len(rep.Revisions))
	for _, sig := range rep.Fields {
		fmt.Printf("%s %s, intact: %v\n", sig.Type, sig.SubFilter, *sig.Intact)
	}
	// Output:
	// signed field Signature1 at B-LTA
	// 4 revisions
	// Sig ETSI.CAdES.detached, intact: true
	// DocTimeStamp ETSI.RFC3161, intact: true
}
