package ipgolden

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stacknet/stacknet/proto/ipv4"
)

func TestRead(t *testing.T) {
	b := make([]byte, 24)
	ipv4.PutHeader(b, ipv4.Fields{TotalLen: 24, TTL: 64, Protocol: ipv4.ProtoUDP,
		Src: ipv4.Header(b).Src(), Dst: ipv4.Header(b).Dst()})
	copy(b[20:], "abcd")
	var hex []byte
	for _, c := range b {
		hex = append(hex, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15], ' ')
	}
	path := filepath.Join(t.TempDir(), "d.hex")
	if err := os.WriteFile(path, hex, 0o644); err != nil {
		t.Fatal(err)
	}
	h, p := Read(t, path, ipv4.ProtoUDP)
	if h.TotalLen() != 24 || string(p) != "abcd" {
		t.Errorf("Read: total %d, payload %q", h.TotalLen(), p)
	}
}
