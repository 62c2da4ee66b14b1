package stacknet

// Review tests: each TestReview... demonstrates a defect found in review.
// They are expected to FAIL until the defect is fixed.

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/arp"
	"github.com/stacknet/stacknet/proto/ether"
	"github.com/stacknet/stacknet/proto/icmp"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/udp"
)

// captureDev is an Ethernet device that records what the stack writes.
type captureDev struct {
	mac  net.HardwareAddr
	done chan struct{}
	once sync.Once

	mu     sync.Mutex
	frames [][]byte
}

func newCaptureDev() *captureDev {
	return &captureDev{mac: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}, done: make(chan struct{})}
}

func (d *captureDev) ReadFrames(bufs [][]byte, sizes []int) (int, error) {
	<-d.done
	return 0, link.ErrClosed
}

func (d *captureDev) WriteFrames(frames [][]byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range frames {
		d.frames = append(d.frames, append([]byte(nil), f...))
	}
	return len(frames), nil
}

func (d *captureDev) written() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.frames...)
}

func (d *captureDev) MTU() int                       { return 1500 }
func (d *captureDev) HardwareAddr() net.HardwareAddr { return d.mac }
func (d *captureDev) Kind() link.Kind                { return link.Ethernet }
func (d *captureDev) Close() error                   { d.once.Do(func() { close(d.done) }); return nil }

var reviewPeer = netip.MustParseAddr("192.0.2.9")

func udpFrame(ethDst ether.Addr, src, dst netip.Addr, sport, dport uint16, data []byte) []byte {
	u := make([]byte, udp.HeaderLen+len(data))
	copy(u[udp.HeaderLen:], data)
	udp.Put(u, src.As4(), dst.As4(), sport, dport)
	return buildIPFrame(ethDst, ipv4.Fields{Protocol: ipv4.ProtoUDP, Src: src, Dst: dst}, u)
}

// A datagram from the wire addressed to 127.0.0.1 is a martian destination
// (RFC 1122 3.2.1.3(g): 127/8 "MUST NOT appear outside a host"; Linux
// ip_route_input_slow: martian_destination). The stack delivers it to a
// socket bound to the loopback, exposing loopback-only services.
func TestReviewLoopbackDestinationFromWire(t *testing.T) {
	s, ifc := nullStack(t, Config{})
	sock, err := s.ListenUDP("udp", netip.MustParseAddrPort("127.0.0.1:7"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	ifc.input(udpFrame(ifc.hw, reviewPeer, netip.MustParseAddr("127.0.0.1"), 1000, 7, []byte("hi")))
	if st := s.Stats(); st.UDP.InDatagrams != 0 {
		t.Errorf("a datagram from the wire to 127.0.0.1 was delivered to a loopback-bound socket (UDP %+v)", st.UDP)
	}
}

// RFC 1122 3.2.2 / Linux __icmp_send (skb->pkt_type != PACKET_HOST): no
// ICMP error about a datagram that arrived as a link-layer broadcast.
// ipInput is given the link header (lh) but never looks at it.
func TestReviewNoICMPErrorForLinkBroadcast(t *testing.T) {
	s, ifc := nullStack(t, Config{})
	ifc.input(udpFrame(ether.Broadcast, reviewPeer, ifc.addr.Addr(), 1000, 9, []byte("x")))
	if st := s.Stats(); st.ICMP.OutDestUnreachs != 0 {
		t.Errorf("port unreachable sent about a link-layer broadcast frame (ICMP %+v)", st.ICMP)
	}
}

// RFC 1812 5.3.4 / Linux ip_forward (pkt_type != PACKET_HOST -> drop): a
// router does not forward a datagram received as a link-layer broadcast.
func TestReviewNoForwardingOfLinkBroadcast(t *testing.T) {
	s, ifc := nullStack(t, Config{Forwarding: true})
	if err := s.AddRoute(netip.MustParsePrefix("198.51.100.0/24"), reviewPeer); err != nil {
		t.Fatal(err)
	}
	ifc.input(udpFrame(ether.Broadcast, reviewPeer, netip.MustParseAddr("198.51.100.7"), 1000, 9, []byte("x")))
	if st := s.Stats(); st.IP.ForwDatagrams != 0 {
		t.Errorf("forwarded a link-layer broadcast frame (IP %+v)", st.IP)
	}
}

// RFC 1812 5.3.5.2: forwarding of directed broadcasts MUST be off by
// default; Linux (bc_forwarding=0) delivers a datagram to the broadcast
// address of any of its subnets locally and does not forward it. The
// stack forwards it out of the other interface as an Ethernet broadcast
// (a smurf amplifier).
func TestReviewDirectedBroadcastNotForwarded(t *testing.T) {
	s, ifc := nullStack(t, Config{Forwarding: true})
	out := newCaptureDev()
	if _, err := s.AddInterface(out, netip.MustParsePrefix("198.51.100.1/24")); err != nil {
		t.Fatal(err)
	}
	before := len(out.written())
	ifc.input(udpFrame(ifc.hw, reviewPeer, netip.MustParseAddr("198.51.100.255"), 1000, 9, []byte("x")))
	if st := s.Stats(); st.IP.ForwDatagrams != 0 || len(out.written()) != before {
		t.Errorf("directed broadcast to another subnet was forwarded (ForwDatagrams %d, frames out %d)",
			st.IP.ForwDatagrams, len(out.written())-before)
	}
}

// Multicast acceptance is by MAC address only, and 32 groups share each
// MAC (RFC 1112 6.4 maps only 23 bits). Linux checks the IP group
// (ip_check_mc_rcu); joining 224.1.1.1 must not deliver 225.1.1.1.
func TestReviewMulticastGroupExactMatch(t *testing.T) {
	s, ifc := nullStack(t, Config{})
	if err := ifc.JoinGroup(netip.MustParseAddr("224.1.1.1")); err != nil {
		t.Fatal(err)
	}
	sock, err := s.ListenUDP("udp", netip.MustParseAddrPort("0.0.0.0:5000"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	other := netip.MustParseAddr("225.1.1.1") // same MAC 01:00:5e:01:01:01
	ifc.input(udpFrame(multicastMAC(other), reviewPeer, other, 1000, 5000, []byte("x")))
	if st := s.Stats(); st.UDP.InDatagrams != 0 {
		t.Errorf("datagram for group %v, not joined, was delivered", other)
	}
}

// LeaveGroup does not validate its argument: multicastMAC calls As4 on
// it, which panics for the zero Addr or an IPv6 address.
func TestReviewLeaveGroupPanics(t *testing.T) {
	_, ifc := nullStack(t, Config{})
	for _, g := range []netip.Addr{{}, netip.MustParseAddr("ff02::1")} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("LeaveGroup(%v) panicked: %v", g, r)
				}
			}()
			ifc.LeaveGroup(g)
		}()
	}
}

// Linux's receive-buffer check (__udp_enqueue_schedule_skb) drops only
// when the memory already queued exceeds sk_rcvbuf, so an empty socket
// always takes one datagram, whatever its size. With SetReadBuffer(1)
// (rcvbuf 2304) Linux still receives a 4000-byte datagram; the stack
// never can.
func TestReviewRcvbufAcceptsOneDatagram(t *testing.T) {
	s, _ := nullStack(t, Config{})
	c, err := s.ListenUDP("udp", netip.MustParseAddrPort("0.0.0.0:7"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetReadBuffer(1); err != nil {
		t.Fatal(err)
	}
	if !c.enqueue(make([]byte, 4000), netip.MustParseAddrPort("192.0.2.9:1")) {
		t.Error("an empty socket with a small buffer refused a 4000-byte datagram; Linux accepts it")
	}
}

// Linux refuses to send from a loopback source out of a non-loopback
// device (__mkroute_output: EINVAL). The stack puts 127.0.0.1 on the wire.
func TestReviewLoopbackSourceNotSentOffHost(t *testing.T) {
	s, _ := nullStack(t, Config{})
	c, err := s.ListenUDP("udp", netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("192.0.2.9:7"))
	if !errors.Is(err, syscall.EINVAL) {
		t.Errorf("send from 127.0.0.1 to 192.0.2.9: %v, want sendto: invalid argument", err)
	}
}

// Linux (__udp4_lib_err, without IP_RECVERR, which package net never
// sets) records an ICMP error on a connected UDP socket only when it is
// "hard" (icmp_err_convert[].fatal): net/host unreachable (codes 0, 1)
// and time exceeded are ignored, while fragmentation needed gives
// EMSGSIZE (pmtudisc defaults to IP_PMTUDISC_WANT). The stack does the
// opposite for each of these.
func TestReviewICMPSoftErrorsLikeLinux(t *testing.T) {
	for _, tc := range []struct {
		name      string
		typ, code uint8
		rest      uint32
		wantErrno syscall.Errno
	}{
		{"net unreachable", icmp.TypeDestUnreach, icmp.CodeNetUnreach, 0, 0},
		{"host unreachable", icmp.TypeDestUnreach, icmp.CodeHostUnreach, 0, 0},
		{"time exceeded", icmp.TypeTimeExceeded, icmp.CodeTTLExceeded, 0, 0},
		{"fragmentation needed", icmp.TypeDestUnreach, icmp.CodeFragNeeded, 1280, syscall.EMSGSIZE},
		{"port unreachable (control)", icmp.TypeDestUnreach, icmp.CodePortUnreach, 0, syscall.ECONNREFUSED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ifc := nullStack(t, Config{})
			c, err := s.DialUDP(t.Context(), "udp", netip.AddrPort{}, netip.AddrPortFrom(reviewPeer, 53))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// The error quotes a datagram c sent.
			q := make([]byte, ipv4.HeaderLen+8)
			ipv4.PutHeader(q, ipv4.Fields{TotalLen: 28, Protocol: ipv4.ProtoUDP, TTL: 64, Src: c.local.Addr(), Dst: reviewPeer})
			udp.Put(q[ipv4.HeaderLen:], c.local.Addr().As4(), reviewPeer.As4(), c.local.Port(), 53)
			m := make([]byte, icmp.HeaderLen+len(q))
			copy(m[icmp.HeaderLen:], q)
			icmp.Put(m, tc.typ, tc.code, tc.rest)
			ifc.input(buildIPFrame(ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoICMP, Src: reviewPeer, Dst: ifc.addr.Addr()}, m))
			c.mu.Lock()
			got := c.softErr
			c.mu.Unlock()
			if got != tc.wantErrno {
				t.Errorf("pending socket error %v (%d), want %v (%d)", got, got, tc.wantErrno, tc.wantErrno)
			}
		})
	}
}

// Multicast datagrams leave with TTL 1 on Linux (IP_MULTICAST_TTL
// defaults to 1, and package net does not change it); the stack sends
// them with the unicast TTL of 64, leaking them beyond the link.
func TestReviewMulticastTTL(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dev := newCaptureDev()
	if _, err := s.AddInterface(dev, addrA); err != nil {
		t.Fatal(err)
	}
	c, err := s.ListenUDP("udp", netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("239.1.2.3:9")); err != nil {
		t.Fatal(err)
	}
	for _, f := range dev.written() {
		eh, err := ether.Parse(f)
		if err != nil || eh.Type != ether.TypeIPv4 {
			continue
		}
		h, err := ipv4.Parse(f[eh.Len:])
		if err == nil && h.Dst() == netip.MustParseAddr("239.1.2.3") && h.TTL() != 1 {
			t.Errorf("multicast sent with TTL %d, Linux sends 1", h.TTL())
		}
	}
}

// Linux loops broadcasts (ip_mc_output, RTCF_BROADCAST) and, with the
// default IP_MULTICAST_LOOP=1, multicasts back to local sockets; a host's
// own socket on 0.0.0.0:port receives the broadcast another local socket
// sends. The stack only puts them on the wire.
func TestReviewBroadcastLoopsBackLocally(t *testing.T) {
	s, _ := nullStack(t, Config{})
	srv, err := s.ListenUDP("udp", netip.MustParseAddrPort("0.0.0.0:9"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := s.ListenUDP("udp", netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteToUDPAddrPort([]byte("b"), netip.MustParseAddrPort("255.255.255.255:9")); err != nil {
		t.Fatal(err)
	}
	srv.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, _, err := srv.ReadFromUDPAddrPort(make([]byte, 10)); err != nil {
		t.Errorf("own broadcast not received locally: %v", err)
	}
}

// Linux routes a connect to 0.0.0.0 to this host (as send already does
// here), so net.Dial("udp", "0.0.0.0:7") works; the stack's DialUDP
// fails with ENETUNREACH when there is no default route.
func TestReviewDialUnspecified(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv, err := s.ListenPacket("udp", "127.0.0.1:7")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := s.Dial("udp", "0.0.0.0:7")
	if err != nil {
		t.Fatalf("Dial 0.0.0.0:7: %v", err)
	}
	c.Close()
}

// Stack.Close racing socket creation: newUDPConn registers the socket,
// then writes c.local without c.mu; Close's release reads c.local. Under
// -race this reports a data race; without it the socket Close released
// is then bound again and returned, its port held in the table.
func TestReviewCloseRacesListen(t *testing.T) {
	for i := 0; i < 2000; i++ {
		s, err := New(Config{NoLoopback: true})
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for {
					c, err := s.ListenUDP("udp", netip.AddrPort{})
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}
		close(start)
		s.Close()
		wg.Wait()
		if n := s.udp.Len(); n != 0 {
			t.Fatalf("after Stack.Close, %d UDP bindings remain", n)
		}
	}
}

// Linux drops, as martian sources, datagrams from the wire whose source is
// 0.0.0.0 (to a unicast destination: ip_route_input_slow) or one of the
// host's own addresses (fib_validate_source, accept_local=0). The stack
// delivers both.
func TestReviewMartianSources(t *testing.T) {
	for _, src := range []string{"0.0.0.0", "192.0.2.1"} {
		t.Run(src, func(t *testing.T) {
			s, ifc := nullStack(t, Config{})
			sock, err := s.ListenUDP("udp", netip.MustParseAddrPort("0.0.0.0:7"))
			if err != nil {
				t.Fatal(err)
			}
			defer sock.Close()
			ifc.input(udpFrame(ifc.hw, netip.MustParseAddr(src), ifc.addr.Addr(), 1000, 7, []byte("x")))
			if st := s.Stats(); st.UDP.InDatagrams != 0 {
				t.Errorf("datagram from martian source %s delivered", src)
			}
		})
	}
}

// With arp_accept=0 (the default) Linux creates no neighbour entry from an
// unsolicited ARP reply (arp_process looks the sender up with creat=0);
// entries come from requests for us (as STALE) or from resolutions. The
// stack creates a Reachable entry from any reply whose target is us, so
// any host on the link can plant entries.
func TestReviewUnsolicitedARPReplyCreatesNoEntry(t *testing.T) {
	_, ifc := nullStack(t, Config{})
	a := make([]byte, ether.MinFrameLen)
	stranger := netip.MustParseAddr("192.0.2.50")
	ether.Put(a, ifc.hw, fuzzPeer, ether.TypeARP)
	arp.Put(a[ether.HeaderLen:], arp.OpReply, fuzzPeer, stranger, ifc.hw, ifc.addr.Addr())
	ifc.input(a)
	for _, e := range ifc.Neighbours() {
		if e.Addr == stranger {
			t.Errorf("unsolicited ARP reply created entry %+v", e)
		}
	}
}

// TestReviewDialUDPNonIPv4Local: a UDP dial from an IPv6 local address
// fails as a TCP dial does, for the stack has no IPv6 address to bind;
// it used to bind a socket to [::1].
func TestReviewDialUDPNonIPv4Local(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.DialUDP(context.Background(), "udp", netip.MustParseAddrPort("[::1]:9"), netip.MustParseAddrPort("127.0.0.1:9"))
	if err == nil {
		c.Close()
		t.Fatal("DialUDP from [::1]:9 succeeded; want a non-IPv4 address error")
	}
	var op *net.OpError
	var ae *net.AddrError
	if !errors.As(err, &op) || op.Op != "dial" || !errors.As(err, &ae) || ae.Err != "non-IPv4 address" {
		t.Fatalf("DialUDP from [::1]:9: %v (%T); want a dial OpError wrapping a non-IPv4 AddrError", err, err)
	}
}
