// Package ipgolden reads golden IPv4 datagrams for the transport
// packages' tests. It is apart from package golden so that proto/ipv4's
// own tests can use golden without an import cycle.
package ipgolden

import (
	"testing"

	"github.com/stacknet/stacknet/internal/golden"
	"github.com/stacknet/stacknet/proto/ipv4"
)

// Read reads the golden datagram at path, checks that it is a valid IPv4
// datagram carrying protocol proto, and returns its header and payload.
func Read(t testing.TB, path string, proto uint8) (ipv4.Header, []byte) {
	t.Helper()
	ip, err := ipv4.Parse(golden.Read(t, path))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if ip.Protocol() != proto {
		t.Fatalf("%s: protocol %d, want %d", path, ip.Protocol(), proto)
	}
	return ip, ip.Payload()
}
