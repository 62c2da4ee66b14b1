// Package golden reads the golden packets that the protocol packages keep
// in testdata: hexadecimal bytes separated by white space, with comments
// running from '#' to the end of the line, so that a packet can be
// annotated field by field.
package golden

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Read returns the bytes of the golden packet at path, failing t if the
// file cannot be read or holds anything but hexadecimal digits.
func Read(t testing.TB, path string) []byte {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var digits strings.Builder
	for line := range strings.Lines(string(src)) {
		line, _, _ = strings.Cut(line, "#")
		for _, f := range strings.Fields(line) {
			digits.WriteString(f)
		}
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// Files returns the base names of the *.hex files in dir, failing t if
// there are none.
func Files(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("no golden packets in %s", dir)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}
