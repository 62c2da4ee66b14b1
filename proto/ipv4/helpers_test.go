package ipv4

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/stacknet/stacknet/internal/golden"
)

// readHex reads the golden packet testdata/golden/name.hex.
func readHex(t testing.TB, name string) []byte {
	t.Helper()
	return golden.Read(t, filepath.Join("testdata", "golden", name+".hex"))
}

var (
	testSrc = netip.MustParseAddr("192.0.2.1")
	testDst = netip.MustParseAddr("198.51.100.2")
)

// build returns a valid datagram with fields f, options opts (padded by
// the caller to a multiple of 4) and payload p. TotalLen is computed.
func build(t testing.TB, f Fields, opts, p []byte) Header {
	t.Helper()
	if len(opts)%4 != 0 || len(opts) > MaxHeaderLen-HeaderLen {
		t.Fatalf("bad options length %d", len(opts))
	}
	hl := HeaderLen + len(opts)
	b := make([]byte, hl+len(p))
	f.TotalLen = len(b)
	PutHeader(b, f)
	copy(b[HeaderLen:], opts)
	copy(b[hl:], p)
	b[0] = 0x40 | byte(hl/4)
	h := Header(b)
	h.SetChecksum()
	if _, err := Parse(b); err != nil {
		t.Fatalf("build: %v", err)
	}
	return h
}

// pattern returns n bytes that differ at every offset modulo 251, so a
// misplaced fragment shows.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i%251) + seed
	}
	return b
}

func sameBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got % x\nwant % x", what, got, want)
	}
}
