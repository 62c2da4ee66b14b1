package stacknet

import (
	"net/netip"
	"testing"
	"time"
)

// TestBroadcastAndMulticast: datagrams to the limited broadcast address,
// to the subnet's directed broadcast and to a joined multicast group reach
// a socket bound to the wildcard address; a group not joined does not,
// and no ICMP error answers any of them.
func TestBroadcastAndMulticast(t *testing.T) {
	a, b := pair(t, Config{})
	srv, err := b.ListenUDP("udp", netip.MustParseAddrPort("0.0.0.0:9"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	group := netip.MustParseAddr("239.1.2.3")
	if err := b.Interfaces()[1].JoinGroup(group); err != nil {
		t.Fatal(err)
	}
	c, err := a.ListenUDP("udp", netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 100)
	for _, dst := range []string{"255.255.255.255", "192.0.2.255", "239.1.2.3"} {
		if _, err := c.WriteToUDPAddrPort([]byte(dst), netip.MustParseAddrPort(dst+":9")); err != nil {
			t.Fatalf("send to %s: %v", dst, err)
		}
		srv.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("receive of datagram to %s: %v", dst, err)
		}
		if string(buf[:n]) != dst || from.Addr() != addrA.Addr() {
			t.Errorf("got %q from %v, want %q from %v", buf[:n], from, dst, addrA.Addr())
		}
	}
	// A group not joined is filtered at the Ethernet layer.
	before := b.Stats().Link.InNotForUs
	c.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("239.9.9.9:9"))
	srv.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := srv.ReadFromUDPAddrPort(buf); err == nil {
		t.Error("received a datagram for a group not joined")
	}
	if b.Stats().Link.InNotForUs <= before {
		t.Error("the frame for a group not joined was not counted")
	}
	// Broadcast to a closed port: no port unreachable (RFC 1122 3.2.2).
	c.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("255.255.255.255:10"))
	deadline := time.Now().Add(5 * time.Second)
	for b.Stats().UDP.NoPorts == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := b.Stats(); st.UDP.NoPorts != 1 || st.ICMP.OutDestUnreachs != 0 {
		t.Errorf("broadcast to closed port: NoPorts %d, OutDestUnreachs %d", st.UDP.NoPorts, st.ICMP.OutDestUnreachs)
	}
}
