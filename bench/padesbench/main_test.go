package main

import "testing"

func TestParseTime(t *testing.T) {
	report := []byte(`	Command being timed: "cp a b"
	User time (seconds): 0.01
	System time (seconds): 1.52
	Percent of CPU this job got: 98%
	Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.54
	Average shared text size (kbytes): 0
	Maximum resident set size (kbytes): 2084
	Exit status: 0
`)
	m, err := parseTime(report)
	if err != nil {
		t.Fatal(err)
	}
	if m.wall != 1.54 || m.user != 0.01 || m.sys != 1.52 || m.rssKB != 2084 {
		t.Errorf("parseTime = %+v", m)
	}
	if _, err := parseTime([]byte("Exit status: 0\n")); err == nil {
		t.Error("parseTime accepted a report without figures")
	}
}

func TestParseClock(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"0:04.66", 4.66},
		{"1:02.50", 62.5},
		{"1:00:01", 3601},
	} {
		got, err := parseClock(tc.in)
		if err != nil || got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("parseClock(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "4.66", "a:b", "0:-1"} {
		if _, err := parseClock(bad); err == nil {
			t.Errorf("parseClock(%q) succeeded", bad)
		}
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median = %v", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median = %v", got)
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/mnt/a\040b`); got != "/mnt/a b" {
		t.Errorf("unescapeMount = %q", got)
	}
}
