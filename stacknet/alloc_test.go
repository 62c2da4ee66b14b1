//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts are only meaningful without it; `make test` runs this file in a
// second, race-free pass.

package stacknet

import (
	"context"
	"net/netip"
	"testing"
)

// TestUDPSteadyStateAllocs: sending and receiving a datagram allocates
// nothing anywhere in the process once the neighbour is resolved: not in
// the socket, not in the stack's input path, not in the device.
func TestUDPSteadyStateAllocs(t *testing.T) {
	a, b := pair(t, Config{})
	srvAddr := netip.MustParseAddrPort("192.0.2.2:7")
	srv, err := b.ListenUDP("udp", srvAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := a.DialUDP(context.Background(), "udp", netip.AddrPort{}, srvAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg, buf := make([]byte, 1000), make([]byte, 2048)
	// Warm up: resolve the neighbours both ways, fill the pools.
	for i := 0; i < 10; i++ {
		c.Write(msg)
		_, from, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		srv.WriteToUDPAddrPort(msg, from)
		c.Read(buf)
	}
	from := c.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Write+ReadFromUDPAddrPort", func() {
			c.Write(msg)
			srv.ReadFromUDPAddrPort(buf)
		}},
		{"WriteToUDPAddrPort+Read", func() {
			srv.WriteToUDPAddrPort(msg, from)
			c.Read(buf)
		}},
	} {
		if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
			t.Errorf("%s: %v allocations per datagram, want 0", tc.name, n)
		}
	}
}
