package pdfgen

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"hashsign/internal/testenv"
)

// TestRaw: a file of a catalog, a page tree and a page, with an extra
// trailer entry, passes qpdf --check without a warning (the cross-reference
// offsets are right), and the trailer holds the entry.
func TestRaw(t *testing.T) {
	qpdf := testenv.Need(t, "qpdf", "")
	b := Raw("/Root 1 0 R /Info 4 0 R", []string{
		"<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>", "<</Title(objects)>>"})
	name := filepath.Join(t.TempDir(), "objects.pdf")
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(qpdf, "--check", name).CombinedOutput()
	if err != nil || bytes.Contains(bytes.ToLower(out), []byte("warning")) {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
	if !bytes.Contains(b, []byte("trailer\n<< /Size 5 /Root 1 0 R /Info 4 0 R >>")) {
		t.Errorf("trailer: %q", b[bytes.LastIndex(b, []byte("trailer")):])
	}
}
