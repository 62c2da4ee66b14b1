package tcp

import (
	"path/filepath"
	"testing"

	goldenfile "github.com/stacknet/stacknet/internal/golden"
	"github.com/stacknet/stacknet/internal/golden/ipgolden"
	"github.com/stacknet/stacknet/proto/ipv4"
)

// readGolden reads a golden IPv4 datagram and returns its header and the
// TCP segment it carries.
func readGolden(t testing.TB, name string) (ipv4.Header, []byte) {
	t.Helper()
	return ipgolden.Read(t, filepath.Join("testdata", name), ipv4.ProtoTCP)
}

// goldenFiles lists every golden packet in testdata.
func goldenFiles(t testing.TB) []string {
	t.Helper()
	return goldenfile.Files(t, "testdata")
}
