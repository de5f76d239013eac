// Package yamlconfig reads the YAML configuration files of hashsvc and of
// the signing gateway of `pades serve`: strictly (an unknown field is an
// error, as a misspelt setting must not be ignored), with errors of one
// line, and with the file's directory, from which relative paths in it are
// resolved (see Path).
package yamlconfig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load decodes the YAML file at path into v and returns the absolute
// directory of the file. Unknown fields are errors.
func Load(path string, v any) (dir string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the configuration: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return "", fmt.Errorf("configuration %s: %s", path, oneLine(err))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("configuration %s: %w", path, err)
	}
	return filepath.Dir(abs), nil
}

// oneLine returns the message of a decoding error on one line: yaml lists
// the errors of several fields on lines of their own.
func oneLine(err error) string {
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		var msgs []string
		for _, m := range te.Errors {
			msgs = append(msgs, strings.TrimSpace(m))
		}
		return strings.Join(msgs, "; ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// Path resolves the path p of a configuration read from dir: a relative
// path is relative to dir; an absolute or empty one, or any when dir is
// empty, is returned as it is.
func Path(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}
