package pdf

import (
	"bytes"
	"os"
	"testing"

	"hashsign/testdata/hostile"
)

// BenchmarkRepair opens a damaged file that Open must rebuild by scanning
// (the hostile case repair-2m: 50 MB, 2 million objects, or the file that
// $PDF_REPAIR_FILE names) and reports the objects found per second. It uses
// only Open, Repaired and Entries, so that the same file runs against an
// older version of the package, for a comparison in one run:
//
//	git worktree add /tmp/old BASE
//	cp pades/internal/pdf/repair_bench_test.go /tmp/old/pades/internal/pdf/
//	cp -r testdata/hostile /tmp/old/testdata/
//	(cd /tmp/old && go test -run '^$' -bench Repair -benchtime 1x ./pades/internal/pdf)
//	go test -run '^$' -bench Repair -benchtime 3x ./pades/internal/pdf
func BenchmarkRepair(b *testing.B) {
	var data []byte
	if name := os.Getenv("PDF_REPAIR_FILE"); name != "" {
		var err error
		if data, err = os.ReadFile(name); err != nil {
			b.Fatal(err)
		}
	} else {
		c, _ := hostile.Lookup("repair-2m")
		var buf bytes.Buffer
		if err := c.Write(&buf); err != nil {
			b.Fatal(err)
		}
		data = buf.Bytes()
	}
	b.SetBytes(int64(len(data)))
	objects := 0
	for b.Loop() {
		rd, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		if !rd.Repaired {
			b.Fatal("the file was not rebuilt")
		}
		objects = 0
		for range rd.Entries() {
			objects++
		}
	}
	b.ReportMetric(float64(objects)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(objects), "objects")
}
