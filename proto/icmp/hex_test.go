package icmp

import (
	"path/filepath"
	"testing"

	"github.com/stacknet/stacknet/internal/golden"

	"github.com/stacknet/stacknet/proto/ipv4"
)

// readHex reads the golden packet testdata/name.
func readHex(t testing.TB, name string) []byte {
	t.Helper()
	return golden.Read(t, filepath.Join("testdata", name))
}

// readGolden reads a golden IPv4 datagram and returns its header and the
// ICMP message it carries.
func readGolden(t testing.TB, name string) (ipv4.Header, []byte) {
	t.Helper()
	ip, err := ipv4.Parse(readHex(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if ip.Protocol() != ipv4.ProtoICMP {
		t.Fatalf("%s: protocol %d", name, ip.Protocol())
	}
	return ip, ip.Payload()
}

// goldenFiles lists every golden packet in testdata.
func goldenFiles(t testing.TB) []string {
	t.Helper()
	return golden.Files(t, "testdata")
}
