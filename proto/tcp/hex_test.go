package tcp

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stacknet/stacknet/proto/ipv4"
)

// readHex reads a golden packet from testdata: hexadecimal bytes separated
// by white space, with comments running from '#' to the end of the line.
func readHex(t testing.TB, name string) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var digits strings.Builder
	for line := range strings.Lines(string(src)) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, f := range strings.Fields(line) {
			digits.WriteString(f)
		}
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

// readGolden reads a golden IPv4 datagram and returns its header and the
// TCP segment it carries.
func readGolden(t testing.TB, name string) (ipv4.Header, []byte) {
	t.Helper()
	ip, err := ipv4.Parse(readHex(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if ip.Protocol() != ipv4.ProtoTCP {
		t.Fatalf("%s: protocol %d", name, ip.Protocol())
	}
	return ip, ip.Payload()
}

// goldenFiles lists every golden packet.
func goldenFiles(t testing.TB) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no golden packets in testdata")
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}
