package yamlconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	type conf struct {
		Listen string `yaml:"listen"`
		Limits struct {
			N int `yaml:"n"`
		} `yaml:"limits"`
	}
	for _, tc := range []struct {
		name, yaml, err string
	}{
		{"good", "listen: a\nlimits: {n: 2}\n", ""},
		{"two unknown fields", "listn: a\nlimits: {m: 2}\n", "line 1: field listn not found in type yamlconfig.conf; line 2: field m not found"},
		{"wrong type", "limits: {n: many}\n", "cannot unmarshal"},
		{"not YAML", "listen: [a\n", "did not find expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "c.yaml")
			os.WriteFile(p, []byte(tc.yaml), 0o644)
			var c conf
			got, err := Load(p, &c)
			if tc.err == "" {
				if err != nil || got != dir || c.Listen != "a" || c.Limits.N != 2 {
					t.Errorf("Load: %q, %+v, %v", got, c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line with %q", err, tc.err)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.yaml"), &struct{}{}); err == nil {
		t.Error("a missing file loaded")
	}
	for _, tc := range [][3]string{{"/etc", "a.pem", "/etc/a.pem"}, {"/etc", "/x/a.pem", "/x/a.pem"}, {"/etc", "", ""}, {"", "a.pem", "a.pem"}} {
		if got := Path(tc[0], tc[1]); got != tc[2] {
			t.Errorf("Path(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}
