package ether

import (
	"path/filepath"
	"testing"

	"github.com/stacknet/stacknet/internal/golden"
)

// readHex reads the golden packet testdata/name.
func readHex(t testing.TB, name string) []byte {
	t.Helper()
	return golden.Read(t, filepath.Join("testdata", name))
}

// goldenFiles lists every golden packet in testdata.
func goldenFiles(t testing.TB) []string {
	t.Helper()
	return golden.Files(t, "testdata")
}
