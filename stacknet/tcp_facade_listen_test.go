package stacknet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/ether"
	"github.com/stacknet/stacknet/proto/icmp"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/tcp"
	"github.com/stacknet/stacknet/timers"
)

// tfSYN is a SYN from src to dst as a frame for the Ethernet address
// hw, with the options a Linux SYN carries.
func tfSYN(hw ether.Addr, src, dst netip.AddrPort, iss tcp.Seq) []byte {
	o := tcp.Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, TSVal: 1, WScale: 7, HasWScale: true}
	seg := make([]byte, tcp.HeaderLen+tcp.OptionsLen(&o))
	tcp.Put(seg, tcp.Fields{SrcPort: src.Port(), DstPort: dst.Port(), Seq: iss, Flags: tcp.SYN, Window: 65535},
		&o, src.Addr().As4(), dst.Addr().As4())
	return buildIPFrame(hw, ipv4.Fields{Protocol: ipv4.ProtoTCP, Src: src.Addr(), Dst: dst.Addr()}, seg)
}

// TestTCPFacadeSynFlood: a flood of SYNs from forged addresses fills the
// SYN queue; the listener answers the rest with SYN cookies, and a
// legitimate connection still succeeds, made from its cookie, with its
// options intact.
func TestTCPFacadeSynFlood(t *testing.T) {
	da, db := link.Pipe(1500)
	a, b := pairOn(t, Config{TCP: TCPConfig{SynBacklog: 8}}, da, db)
	l := tfListen(t, b, tfServer)
	const flood = 200
	for i := range flood {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i%200)}), uint16(1024+i))
		// Written on A's end of the wire: B receives it, A's stack never
		// sees it.
		if _, err := da.WriteFrames([][]byte{tfSYN(b.Interfaces()[1].hw, src, tfServer, tcp.Seq(i*7919))}); err != nil {
			t.Fatal(err)
		}
	}
	tfWaitFor(t, "the flood to be answered", func() bool { return b.Stats().TCP.SyncookiesSent >= flood-8 })
	l.mu.Lock()
	queued := len(l.syn)
	l.mu.Unlock()
	if queued != 8 {
		t.Errorf("SYN queue holds %d, want its bound, 8", queued)
	}

	c, s := tfConnect(t, a, l)
	if st := b.Stats().TCP; st.SyncookiesRecv != 1 || st.SyncookiesFailed != 0 || st.PassiveOpens != 1 {
		t.Errorf("the connection was not made from a cookie: %+v", st)
	}
	ci, si := c.Info(), s.Info()
	if !si.SACK || !si.Timestamps || si.RcvWScale != ci.SndWScale || si.SndWScale != ci.RcvWScale || si.RcvWScale < 0 {
		t.Errorf("options lost through the cookie: client %+v, server %+v", ci, si)
	}
	msg := bytes.Repeat([]byte("cookie"), 50000)
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(s, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("transfer over a cookie connection: %v", err)
	}

	// A forged ACK with a bad cookie makes no connection: it is reset.
	var bad [tcp.HeaderLen]byte
	src := netip.MustParseAddrPort("192.0.2.50:5555")
	tcp.Put(bad[:], tcp.Fields{SrcPort: 5555, DstPort: 80, Seq: 1000, Ack: 12345, Flags: tcp.ACK, Window: 100}, nil, src.Addr().As4(), tfServer.Addr().As4())
	rsts := b.Stats().TCP.OutRsts
	da.WriteFrames([][]byte{buildIPFrame(b.Interfaces()[1].hw, ipv4.Fields{Protocol: ipv4.ProtoTCP, Src: src.Addr(), Dst: tfServer.Addr()}, bad[:])})
	tfWaitFor(t, "the bad cookie's reset", func() bool { return b.Stats().TCP.OutRsts > rsts })
	if st := b.Stats().TCP; st.SyncookiesFailed != 1 || st.PassiveOpens != 1 {
		t.Errorf("bad cookie: %+v", st)
	}
}

// TestTCPFacadeBacklog: with the accept queue full, SYNs are dropped, so
// a dial waits; Accept makes room.
func TestTCPFacadeBacklog(t *testing.T) {
	a, b := pair(t, Config{TCP: TCPConfig{ListenBacklog: 2}})
	l := tfListen(t, b, tfServer)
	for range 2 {
		c, err := a.DialTCP(ctxTimeout(t, 10*time.Second), netip.AddrPort{}, tfServer)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	tfWaitFor(t, "the accept queue to fill", func() bool { return l.acceptQueueFull() })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := a.DialTCP(ctx, netip.AddrPort{}, tfServer)
	if oe := tfOpErr(t, "dial to a full accept queue", err, "dial", context.DeadlineExceeded); !oe.Timeout() {
		t.Errorf("%v: not a timeout", err)
	}
	if st := b.Stats().TCP; st.ListenOverflows == 0 || st.ListenDrops < st.ListenOverflows {
		t.Errorf("overflow not counted: %+v", st)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := a.DialTCP(ctxTimeout(t, 10*time.Second), netip.AddrPort{}, tfServer)
	if err != nil {
		t.Fatalf("dial after Accept made room: %v", err)
	}
	c.Close()
}

// TestTCPFacadeListenerCloseResets: closing a listener resets the
// connections it has not handed out.
func TestTCPFacadeListenerCloseResets(t *testing.T) {
	a, b := pair(t, Config{})
	l := tfListen(t, b, tfServer)
	c, err := a.DialTCP(ctxTimeout(t, 10*time.Second), netip.AddrPort{}, tfServer)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tfWaitFor(t, "the connection to be queued", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.queue) > l.head
	})
	l.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Read(make([]byte, 1))
	tfOpErr(t, "read after the listener closed", err, "read", syscall.ECONNRESET)
	if _, err := b.ListenTCP(tfServer); err != nil {
		t.Errorf("the port stayed bound: %v", err)
	}
}

// TestTCPFacadeTimeWaitReuse: a new SYN for a 4-tuple in TIME-WAIT on the
// listening side starts a new connection (RFC 6191).
func TestTCPFacadeTimeWaitReuse(t *testing.T) {
	a, b := pair(t, Config{})
	l := tfListen(t, b, tfServer)
	laddr := netip.MustParseAddrPort("192.0.2.1:40000")
	dial := func() (*TCPConn, *TCPConn) {
		ac := make(chan *TCPConn, 1)
		go func() {
			s, _ := l.AcceptTCP()
			ac <- s
		}()
		c, err := a.DialTCP(ctxTimeout(t, 10*time.Second), laddr, tfServer)
		if err != nil {
			t.Fatal(err)
		}
		return c, <-ac
	}
	c, s := dial()
	s.Close() // the server closes first: it ends in TIME-WAIT
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatal(err)
	}
	c.Close()
	tfWaitFor(t, "TIME-WAIT", func() bool { return tfState(s) == tcp.TimeWait && tfState(c) == tcp.Closed })
	time.Sleep(2 * time.Millisecond) // the TS clock must tick for the new SYN to be newer
	c2, s2 := dial()
	defer c2.Close()
	defer s2.Close()
	if s2 == nil || s2 == s || s2.RemoteAddr().String() != "192.0.2.1:40000" {
		t.Fatalf("new incarnation: %v", s2)
	}
	if tfState(s) != tcp.TimeWait || b.tcp.lookup(s2.key) != s2 {
		t.Error("the old incarnation was not replaced")
	}
	if _, err := c2.Write([]byte("again")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(s2, buf); err != nil || string(buf) != "again" {
		t.Fatalf("%q, %v", buf, err)
	}
}

func TestTCPFacadePorts(t *testing.T) {
	a, b := pair(t, Config{TCP: TCPConfig{EphemeralPorts: [2]uint16{40000, 40002}}})
	tfListen(t, b, tfServer)
	tfListen(t, b, netip.MustParseAddrPort("192.0.2.2:81"))
	seen := map[int]bool{}
	for range 3 {
		c, err := a.Dial("tcp", "192.0.2.2:80")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p := c.LocalAddr().(*net.TCPAddr).Port
		if p < 40000 || p > 40002 || seen[p] {
			t.Errorf("port %d: outside the range or used twice", p)
		}
		seen[p] = true
	}
	_, err := a.Dial("tcp", "192.0.2.2:80")
	var se *os.SyscallError
	if tfOpErr(t, "dial with every port taken", err, "dial", syscall.EADDRNOTAVAIL); !errors.As(err, &se) || se.Syscall != "connect" {
		t.Errorf("%v: want connect: cannot assign requested address", err)
	}
	// Another destination may use the same ports.
	c, err := a.Dial("tcp", "192.0.2.2:81")
	if err != nil {
		t.Fatalf("dial to another destination: %v", err)
	}
	c.Close()

	// Listening on a port a connection holds as its own, or twice.
	for _, addr := range []string{"192.0.2.2:80", ":80", ":40000"} {
		s := b
		if addr == ":40000" {
			s = a
		}
		_, err := s.Listen("tcp", addr)
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "listen" || !errors.Is(err, syscall.EADDRINUSE) || !errors.As(err, &se) || se.Syscall != "bind" {
			t.Errorf("Listen %s: %v, want bind: address already in use", addr, err)
		}
	}
	// An explicit local port in use.
	_, err = a.DialTCP(context.Background(), netip.MustParseAddrPort("192.0.2.1:40000"), tfServer)
	tfOpErr(t, "dial from a port in use", err, "dial", syscall.EADDRINUSE)

	// RFC 6056: where the search starts is a keyed hash, so two stacks
	// pick unrelated first ports for one destination.
	first := map[uint16]bool{}
	for range 8 {
		s, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		ap, err := s.insertConn(s.newTCPConn("tcp", route{}, false), netip.MustParseAddrPort("192.0.2.1:0"), tfServer)
		s.Close()
		if err != nil || ap.Port() < defaultEphemeralLow || ap.Port() > defaultEphemeralHigh {
			t.Fatalf("ephemeral port %v, %v", ap, err)
		}
		first[ap.Port()] = true
	}
	if len(first) < 2 {
		t.Errorf("8 stacks chose the same first port: %v", first)
	}
}

// TestTCPFacadeICMP: fragmentation needed lowers the connection's MSS
// (RFC 1191), and data still flows; an error quoting a sequence number
// not in flight is ignored.
func TestTCPFacadeICMP(t *testing.T) {
	da, db := link.Pipe(1500)
	a, b := pairOn(t, Config{}, da, db)
	c, s := tfConnect(t, a, tfListen(t, b, tfServer))
	before := c.Info().SndMSS
	send := func(seq tcp.Seq, mtu uint32) {
		var q [ipv4.HeaderLen + 8]byte
		ipv4.PutHeader(q[:], ipv4.Fields{TotalLen: 1500, TTL: 64, Protocol: ipv4.ProtoTCP, Src: c.local().Addr(), Dst: c.remote().Addr()})
		th := q[ipv4.HeaderLen:]
		th[0], th[1] = byte(c.local().Port()>>8), byte(c.local().Port())
		th[2], th[3] = byte(c.remote().Port()>>8), byte(c.remote().Port())
		th[4], th[5], th[6], th[7] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
		m := make([]byte, icmp.HeaderLen+len(q))
		copy(m[icmp.HeaderLen:], q[:])
		icmp.Put(m, icmp.TypeDestUnreach, icmp.CodeFragNeeded, mtu)
		router := netip.MustParseAddr("192.0.2.254")
		db.WriteFrames([][]byte{buildIPFrame(a.Interfaces()[1].hw, ipv4.Fields{Protocol: ipv4.ProtoICMP, Src: router, Dst: c.local().Addr()}, m)})
	}
	send(c.Info().SndUna.Add(1<<30), 1000)
	tfWaitFor(t, "the out-of-window error", func() bool { return a.Stats().TCP.InICMPOutOfWindow == 1 })
	if got := c.Info().SndMSS; got != before {
		t.Errorf("an error quoting no segment in flight changed the MSS: %d -> %d", before, got)
	}
	send(c.Info().SndUna, 1000)
	tfWaitFor(t, "the MSS to fall", func() bool { return c.Info().SndMSS < before })
	if got := c.Info().SndMSS; got > 1000-40 {
		t.Errorf("MSS %d after a next-hop MTU of 1000", got)
	}
	if st := a.Stats().ICMP; st.InErrorsDelivered != 1 {
		t.Errorf("ICMP stats %+v", st)
	}
	msg := bytes.Repeat([]byte("pmtu"), 10000)
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(s, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("after the MTU fell: %v", err)
	}
}

// TestTCPFacadeAcceptQueueFullDropsACK: the ACK that would complete a
// handshake while the accept queue is full is dropped, as on Linux, so
// the connection stays in SYN-RECEIVED; once Accept makes room, the
// peer's retransmitted ACK completes it.
func TestTCPFacadeAcceptQueueFullDropsACK(t *testing.T) {
	da, db := link.Pipe(1500)
	a, b := pairOn(t, Config{TCP: TCPConfig{ListenBacklog: 1}}, da, db)
	l := tfListen(t, b, tfServer)
	// A peer that exists only as frames written on A's end of the wire:
	// B's SYN-ACKs to it are dropped by A's Ethernet filter.
	peer := netip.MustParseAddrPort("192.0.2.50:5000")
	b.Interfaces()[1].AddNeighbour(peer.Addr(), net.HardwareAddr{2, 0, 0, 0, 0, 0x50})
	const iss = tcp.Seq(777)
	da.WriteFrames([][]byte{tfSYN(b.Interfaces()[1].hw, peer, tfServer, iss)})
	k := makeTCPKey(tfServer, peer)
	tfWaitFor(t, "the SYN queue entry", func() bool { return b.tcp.lookup(k) != nil })
	child := b.tcp.lookup(k)
	ack := func() {
		var seg [tcp.HeaderLen]byte
		tcp.Put(seg[:], tcp.Fields{SrcPort: peer.Port(), DstPort: 80, Seq: iss.Add(1), Ack: child.Info().SndUna.Add(1), Flags: tcp.ACK, Window: 1000},
			nil, peer.Addr().As4(), tfServer.Addr().As4())
		da.WriteFrames([][]byte{buildIPFrame(b.Interfaces()[1].hw, ipv4.Fields{Protocol: ipv4.ProtoTCP, Src: peer.Addr(), Dst: tfServer.Addr()}, seg[:])})
	}

	// A real connection fills the accept queue.
	c, err := a.DialTCP(ctxTimeout(t, 10*time.Second), netip.AddrPort{}, tfServer)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tfWaitFor(t, "the accept queue to fill", l.acceptQueueFull)
	ack()
	tfWaitFor(t, "the ACK to be dropped", func() bool { return b.Stats().TCP.ListenOverflows == 1 })
	if st := tfState(child); st != tcp.SynReceived {
		t.Fatalf("child in %v after its ACK was dropped, want SYN-RECEIVED", st)
	}
	s, err := l.AcceptTCP()
	if err != nil || s.RemoteAddr().String() != c.LocalAddr().String() {
		t.Fatalf("first Accept: %v, %v", s, err)
	}
	defer s.Close()
	ack()
	l.SetDeadline(time.Now().Add(10 * time.Second))
	s2, err := l.AcceptTCP()
	if err != nil || s2 != child {
		t.Fatalf("second Accept: %v, %v; want the connection the retransmitted ACK completed", s2, err)
	}
	s2.Close()
}

// TestTCPFacadeDialTimeout, on a fake clock: a SYN nobody answers is
// retransmitted SynRetries times, then the dial fails with ETIMEDOUT; or,
// when an ICMP host unreachable arrives for the SYN, at once with
// EHOSTUNREACH: Linux's tcp_v4_err fails a connect in SYN-SENT on any ICMP
// error that reaches the socket.
func TestTCPFacadeDialTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		icmp    bool
		want    error
		retrans uint64
	}{
		{"silence", false, syscall.ETIMEDOUT, 2},
		{"host unreachable", true, syscall.EHOSTUNREACH, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := timers.NewFake(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
			da, db := link.Pipe(1500)
			a, _ := pairOn(t, Config{Clock: clock, TCP: TCPConfig{SynRetries: 2}}, da, db)
			hole := netip.MustParseAddrPort("192.0.2.9:80")
			a.Interfaces()[1].AddNeighbour(hole.Addr(), net.HardwareAddr{2, 0, 0, 0, 0, 9})
			errc := make(chan error, 1)
			go func() {
				_, err := a.DialTCP(context.Background(), netip.AddrPort{}, hole)
				errc <- err
			}()
			var c *TCPConn
			tfWaitFor(t, "the SYN", func() bool {
				a.tcp.mu.RLock()
				defer a.tcp.mu.RUnlock()
				for _, x := range a.tcp.conns {
					c = x
				}
				return c != nil && a.Stats().TCP.OutSegs > 0
			})
			if tc.icmp {
				iss := c.Info().SndUna
				var q [ipv4.HeaderLen + 8]byte
				ipv4.PutHeader(q[:], ipv4.Fields{TotalLen: 60, TTL: 64, Protocol: ipv4.ProtoTCP, Src: c.local().Addr(), Dst: hole.Addr()})
				binary.BigEndian.PutUint16(q[20:], c.local().Port())
				binary.BigEndian.PutUint16(q[22:], hole.Port())
				binary.BigEndian.PutUint32(q[24:], uint32(iss))
				m := make([]byte, icmp.HeaderLen+len(q))
				copy(m[icmp.HeaderLen:], q[:])
				icmp.Put(m, icmp.TypeDestUnreach, icmp.CodeHostUnreach, 0)
				router := netip.MustParseAddr("192.0.2.254")
				db.WriteFrames([][]byte{buildIPFrame(a.Interfaces()[1].hw, ipv4.Fields{Protocol: ipv4.ProtoICMP, Src: router, Dst: c.local().Addr()}, m)})
				tfWaitFor(t, "the ICMP error", func() bool { return a.Stats().ICMP.InErrorsDelivered == 1 })
			}
			for range 20 {
				select {
				case err := <-errc:
					tfOpErr(t, "dial to nobody", err, "dial", tc.want)
					if st := a.Stats().TCP; st.RetransSegs != tc.retrans || st.AttemptFails != 1 {
						t.Errorf("stats %+v: want %d retransmissions and 1 failed attempt", st, tc.retrans)
					}
					return
				default:
				}
				clock.Advance(time.Second)
				runtime.Gosched()
			}
			select {
			case err := <-errc:
				tfOpErr(t, "dial to nobody", err, "dial", tc.want)
			case <-time.After(10 * time.Second):
				t.Fatal("the dial did not give up")
			}
		})
	}
}
