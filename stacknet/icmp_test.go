package stacknet

import (
	"net/netip"
	"testing"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/icmp"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/udp"
)

// nullStack is a stack with one interface on a Null device, fed frames by
// calling its input directly.
func nullStack(t *testing.T, cfg Config) (*Stack, *Interface) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ifc, err := s.AddInterface(link.Null(1500), addrA)
	if err != nil {
		t.Fatal(err)
	}
	// A static neighbour, so that replies need no ARP.
	if err := ifc.AddNeighbour(netip.MustParseAddr("192.0.2.9"), fuzzPeer.HardwareAddr()); err != nil {
		t.Fatal(err)
	}
	return s, ifc
}

func TestICMPErrorsWeSend(t *testing.T) {
	peer := netip.MustParseAddr("192.0.2.9")
	me := addrA.Addr()
	toClosedPort := func(ifc *Interface) []byte {
		u := make([]byte, udp.HeaderLen+4)
		udp.Put(u, peer.As4(), me.As4(), 1000, 9)
		return buildIPFrame(ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoUDP, Src: peer, Dst: me}, u)
	}
	tests := []struct {
		name  string
		frame func(ifc *Interface) []byte
		check func(st Stats) bool
	}{
		{"protocol unreachable", func(ifc *Interface) []byte {
			return buildIPFrame(ifc.hw, ipv4.Fields{Protocol: 99, Src: peer, Dst: me}, []byte("data"))
		}, func(st Stats) bool { return st.IP.InUnknownProtos == 1 && st.ICMP.OutDestUnreachs == 1 }},
		{"port unreachable", toClosedPort, func(st Stats) bool {
			return st.UDP.NoPorts == 1 && st.ICMP.OutDestUnreachs == 1
		}},
		{"none for a non-initial fragment", func(ifc *Interface) []byte {
			return buildIPFrame(ifc.hw, ipv4.Fields{Protocol: 99, Src: peer, Dst: me, FragOff: 8, ID: 3}, []byte("12345678"))
		}, func(st Stats) bool { return st.ICMP.OutMsgs == 0 }},
		{"unknown ICMP type counted", func(ifc *Interface) []byte {
			m := make([]byte, icmp.HeaderLen)
			icmp.Put(m, 42, 0, 0)
			return buildIPFrame(ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoICMP, Src: peer, Dst: me}, m)
		}, func(st Stats) bool { return st.ICMP.InUnknownTypes == 1 && st.ICMP.OutMsgs == 0 }},
		{"bad checksum dropped and counted", func(ifc *Interface) []byte {
			f := toClosedPort(ifc)
			f[len(f)-1] ^= 0xff
			return f
		}, func(st Stats) bool { return st.UDP.InCsumErrors == 1 && st.ICMP.OutMsgs == 0 }},
		{"martian source dropped", func(ifc *Interface) []byte {
			return buildIPFrame(ifc.hw, ipv4.Fields{Protocol: 99, Src: netip.MustParseAddr("127.0.0.1"), Dst: me}, nil)
		}, func(st Stats) bool { return st.IP.InBadSource == 1 && st.ICMP.OutMsgs == 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ifc := nullStack(t, Config{})
			ifc.input(tc.frame(ifc))
			if st := s.Stats(); !tc.check(st) {
				t.Errorf("stats: IP %+v\nICMP %+v\nUDP %+v", st.IP, st.ICMP, st.UDP)
			}
		})
	}
}

// TestNoErrorAboutAnError: a router whose TTL check drops an echo sends
// time exceeded, but never about an ICMP error (RFC 1122 3.2.2).
func TestNoErrorAboutAnError(t *testing.T) {
	peer := netip.MustParseAddr("192.0.2.9")
	far := netip.MustParseAddr("198.51.100.7")
	for _, tc := range []struct {
		typ  uint8
		want uint64
	}{{icmp.TypeEcho, 1}, {icmp.TypeDestUnreach, 0}, {icmp.TypeTimeExceeded, 0}} {
		s, ifc := nullStack(t, Config{Forwarding: true})
		m := make([]byte, icmp.HeaderLen+ipv4.HeaderLen+8)
		ipv4.PutHeader(m[icmp.HeaderLen:], ipv4.Fields{TotalLen: 28, Protocol: ipv4.ProtoUDP, TTL: 1, Src: far, Dst: peer})
		icmp.Put(m, tc.typ, 0, 0)
		ifc.input(buildIPFrame(ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoICMP, Src: peer, Dst: far, TTL: 1}, m))
		if st := s.Stats(); st.ICMP.OutTimeExcds != tc.want || st.IP.InTTLExceeded != 1 {
			t.Errorf("TTL ran out on ICMP type %d: sent %d time exceeded, want %d (%+v)", tc.typ, st.ICMP.OutTimeExcds, tc.want, st.IP)
		}
	}
}

// TestICMPRateLimit: a burst of datagrams to a closed port draws at most
// the bucket's burst of port unreachables; the rest are counted.
func TestICMPRateLimit(t *testing.T) {
	s, ifc := nullStack(t, Config{ICMPRate: 1, ICMPBurst: 5})
	peer := netip.MustParseAddr("192.0.2.9")
	u := make([]byte, udp.HeaderLen)
	udp.Put(u, peer.As4(), addrA.Addr().As4(), 1000, 9)
	frame := buildIPFrame(ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoUDP, Src: peer, Dst: addrA.Addr()}, u)
	for i := 0; i < 100; i++ {
		ifc.input(frame)
	}
	st := s.Stats()
	if st.ICMP.OutDestUnreachs < 5 || st.ICMP.OutDestUnreachs > 6 || st.ICMP.OutRateLimited != 100-st.ICMP.OutDestUnreachs {
		t.Errorf("sent %d, rate-limited %d", st.ICMP.OutDestUnreachs, st.ICMP.OutRateLimited)
	}
}

// TestReceiveBufferBound: a flood into a socket nobody reads stops at the
// receive buffer (plus the one datagram Linux lets past it), every
// datagram beyond counted as a buffer error.
func TestReceiveBufferBound(t *testing.T) {
	s, ifc := nullStack(t, Config{UDPReceiveBuffer: 10000})
	sock, err := s.ListenUDP("udp", netip.MustParseAddrPort("0.0.0.0:7"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	peer := netip.MustParseAddr("192.0.2.9")
	u := make([]byte, udp.HeaderLen+1000)
	udp.Put(u, peer.As4(), addrA.Addr().As4(), 1000, 7)
	frame := buildIPFrame(ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoUDP, Src: peer, Dst: addrA.Addr()}, u)
	for i := 0; i < 100; i++ {
		ifc.input(frame)
	}
	st := s.Stats()
	// 1000+256 bytes charged each: the 8th is taken with 8792 queued,
	// leaving 10048, over the buffer; the rest are dropped.
	if st.UDP.InDatagrams != 8 || st.UDP.RcvbufErrors != 92 {
		t.Errorf("delivered %d, dropped %d; want 8 and 92", st.UDP.InDatagrams, st.UDP.RcvbufErrors)
	}
}
