package compat_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"
)

// Opening sockets: listen and dial errors, addresses, ephemeral ports and
// buffer sizes.

var _ = register(
	scenario{name: "ListenAddressInUse", run: listenInUse},
	scenario{name: "ListenNonLocalAddress", run: listenNonLocal},
	scenario{name: "ListenBadArguments", run: listenBad},
	scenario{name: "ListenEphemeralPortUDP4", run: func(t *testing.T, e env) { listenEphemeral(t, e, "udp4") }},
	// Where the kernel listens (tap-client), these two match: the
	// divergence is stacknet's listener's.
	scenario{name: "ListenEphemeralPortUDP", run: func(t *testing.T, e env) { listenEphemeral(t, e, "udp") },
		skip: skipDualStackLocal, tapSkip: map[string]string{"tap-server": skipDualStackLocal}},
	scenario{name: "WildcardUDPListenerAddressForms", run: wildcardForms,
		skip: skipDualStackFrom, tapSkip: map[string]string{"tap-server": skipDualStackFrom}},
	scenario{name: "LocalAndRemoteAddr", run: localRemoteAddr},
	scenario{name: "DialUnknownNetwork", run: dialUnknownNetwork},
	scenario{name: "DialBadAddress", run: dialBadAddress},
	scenario{name: "DialCancelledContext", run: dialCancelled},
	scenario{name: "DialExpiredContext", run: dialExpired},
	scenario{name: "DialPortZero", run: dialPortZero},
	scenario{name: "SetBufferSizes", run: setBuffers},
	scenario{name: "SmallReadBufferDropsFlood", run: flood},
)

// The accepted divergences of stacknet's wildcard "udp" listener, which
// has no IPv6.
const (
	skipDualStackLocal = "package net listens on \"udp\" \":0\" with a dual-stack IPv6 socket, so LocalAddr is [::]:port with a 16-byte IP; stacknet has no IPv6 and says 0.0.0.0:port (see report)"
	skipDualStackFrom  = "package net's \"udp\" wildcard listener is a dual-stack IPv6 socket: senders come back as 16-byte IPv4-mapped addresses, [::ffff:a.b.c.d]:port from ReadFromUDPAddrPort; stacknet has no IPv6 (see report)"
)

// Binding a port that is in use fails with EADDRINUSE inside a listen
// *net.OpError.
func listenInUse(t *testing.T, e env) {
	first := listen(t, e, "udp", hostPort(e.ServerAddr(), 0))
	port := portOf(t, first.LocalAddr())
	for _, tc := range []struct{ name, network, addr string }{
		{"same address", "udp", hostPort(e.ServerAddr(), port)},
		{"same address udp4", "udp4", hostPort(e.ServerAddr(), port)},
		{"wildcard udp4", "udp4", hostPort("", port)},
		{"wildcard 0.0.0.0", "udp4", hostPort("0.0.0.0", port)},
	} {
		pc, err := e.ListenPacket(tc.network, tc.addr)
		e.Note(tc.name+".conn is nil", pc == nil)
		e.NoteErr(tc.name, err)
		if err == nil {
			pc.Close()
		}
	}
	// The other way round: the wildcard first.
	wild := listen(t, e, "udp4", "0.0.0.0:0")
	port = portOf(t, wild.LocalAddr())
	pc, err := e.ListenPacket("udp", hostPort(e.ServerAddr(), port))
	e.NoteErr("specific after wildcard", err)
	if err == nil {
		pc.Close()
	}
}

// Binding an address the host does not have fails with EADDRNOTAVAIL.
func listenNonLocal(t *testing.T, e env) {
	pc, err := e.ListenPacket("udp", hostPort(e.NonLocalAddr(), 0))
	e.Note("conn is nil", pc == nil)
	e.NoteErr("ListenPacket", err)
	if err == nil {
		pc.Close()
	}
}

// ListenPacket's errors for bad networks and addresses.
func listenBad(t *testing.T, e env) {
	for _, tc := range []struct{ name, network, addr string }{
		{"unknown network", "udp9", hostPort(e.ServerAddr(), 0)},
		{"empty network", "", hostPort(e.ServerAddr(), 0)},
		{"missing port", "udp", e.ServerAddr()},
		{"port out of range", "udp", hostPort(e.ServerAddr(), 65536)},
		{"negative port", "udp", e.ServerAddr() + ":-1"},
		{"unknown service", "udp", e.ServerAddr() + ":no-such-service"},
		{"tcp network", "tcp", hostPort(e.ServerAddr(), 0)},
	} {
		pc, err := e.ListenPacket(tc.network, tc.addr)
		e.NoteErr(tc.name, err)
		if err == nil {
			pc.Close()
		}
	}
	// A named service is looked up.
	pc, err := e.ListenPacket("udp", e.ServerAddr()+":domain")
	e.NoteErr("named service", err)
	if err == nil {
		e.Note("named service port", portOf(t, pc.LocalAddr()) == 53)
		pc.Close()
	}
}

// Listening on port 0 (or on the empty address) picks a port in Linux's
// ephemeral range, net.ipv4.ip_local_port_range = 32768 60999.
func listenEphemeral(t *testing.T, e env, network string) {
	for i, addr := range []string{":0", "", "0.0.0.0:0"} {
		key := strconv.Quote(addr)
		pc, err := e.ListenPacket(network, addr)
		e.NoteErr(key, err)
		if err != nil {
			continue
		}
		defer pc.Close()
		e.NoteAddr(key+".LocalAddr", pc.LocalAddr())
		p := portOf(t, pc.LocalAddr())
		if p < 32768 || p > 60999 {
			t.Errorf("listen %d: port %d outside [32768, 60999]", i, p)
		}
	}
	c := dial(t, e, network, hostPort(e.ServerAddr(), 9))
	if p := portOf(t, c.LocalAddr()); p < 32768 || p > 60999 {
		t.Errorf("dial: port %d outside [32768, 60999]", p)
	}
}

// The addresses a wildcard "udp" listener reports.
func wildcardForms(t *testing.T, e env) {
	pc := listen(t, e, "udp", ":0")
	guardDeadline(t, pc)
	e.NoteAddr("LocalAddr", pc.LocalAddr())
	c := dial(t, e, "udp", hostPort(e.ServerAddr(), portOf(t, pc.LocalAddr())))
	mustWrite(t, c, []byte("a"))
	mustWrite(t, c, []byte("b"))
	_, from, err := pc.ReadFrom(make([]byte, 8))
	e.NoteAddr("ReadFrom", from)
	e.NoteErr("ReadFrom", err)
	_, ap, err := asUDPConn(t, pc).ReadFromUDPAddrPort(make([]byte, 8))
	e.Note("ReadFromUDPAddrPort", describeAddrPort(ap))
	e.NoteErr("ReadFromUDPAddrPort", err)
}

type remoteAddrer interface{ RemoteAddr() net.Addr }

// LocalAddr and RemoteAddr of listening and dialled sockets: types and
// nil-ness.
func localRemoteAddr(t *testing.T, e env) {
	pc := listen(t, e, "udp", hostPort(e.ServerAddr(), 0))
	e.NoteAddr("listen.LocalAddr", pc.LocalAddr())
	ra, ok := pc.(remoteAddrer)
	e.Note("listen has RemoteAddr", ok)
	if ok {
		e.NoteAddr("listen.RemoteAddr", ra.RemoteAddr())
		e.Note("listen.RemoteAddr == nil", ra.RemoteAddr() == nil)
	}
	c := dial(t, e, "udp", pc.LocalAddr().String())
	e.NoteAddr("dial.LocalAddr", c.LocalAddr())
	e.NoteAddr("dial.RemoteAddr", c.RemoteAddr())
	e.Note("dial.RemoteAddr equals the listener", c.RemoteAddr().String() == pc.LocalAddr().String())
	e.Note("dial.LocalAddr is the client's address", c.LocalAddr().(*net.UDPAddr).IP.String() == e.ClientAddr())
	c4 := dial(t, e, "udp4", pc.LocalAddr().String())
	e.NoteAddr("dial udp4.LocalAddr", c4.LocalAddr())
	e.NoteAddr("dial udp4.RemoteAddr", c4.RemoteAddr())
	wild := listen(t, e, "udp4", ":0")
	e.NoteAddr("listen udp4 :0.LocalAddr", wild.LocalAddr())
	e.Note("listen udp4 :0.LocalAddr", wild.LocalAddr().String())
	e.Note("Network", []string{pc.LocalAddr().Network(), c.LocalAddr().Network(), c.RemoteAddr().Network()})
}

// Dial with a network it does not know.
func dialUnknownNetwork(t *testing.T, e env) {
	for _, network := range []string{"udp9", "", "UDP"} {
		c, err := e.Dial(network, hostPort(e.ServerAddr(), 9))
		e.Note(network+".conn is nil", c == nil)
		e.NoteErr(network, err)
		if err == nil {
			c.Close()
		}
	}
}

// Dial with malformed addresses.
func dialBadAddress(t *testing.T, e env) {
	for _, tc := range []struct{ name, addr string }{
		{"missing port", e.ServerAddr()},
		{"empty", ""},
		{"port out of range", hostPort(e.ServerAddr(), 65536)},
		{"negative port", e.ServerAddr() + ":-1"},
		{"too many colons", e.ServerAddr() + ":9:9"},
		{"unknown service", e.ServerAddr() + ":no-such-service"},
	} {
		c, err := e.Dial("udp", tc.addr)
		e.Note(tc.name+".conn is nil", c == nil)
		e.NoteErr(tc.name, err)
		if err == nil {
			c.Close()
		}
	}
}

// DialContext with a context already cancelled.
func dialCancelled(t *testing.T, e env) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := e.DialContext(ctx, "udp", hostPort(e.ServerAddr(), 9))
	e.Note("conn is nil", c == nil)
	e.NoteErr("DialContext", err)
	if err == nil {
		c.Close()
	}
}

// DialContext with a context whose deadline has passed.
func dialExpired(t *testing.T, e env) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	c, err := e.DialContext(ctx, "udp", hostPort(e.ServerAddr(), 9))
	e.Note("conn is nil", c == nil)
	e.NoteErr("DialContext", err)
	if err == nil {
		c.Close()
	}
}

// Dial to port 0, and what a Write then does.
func dialPortZero(t *testing.T, e env) {
	c, err := e.Dial("udp", hostPort(e.ServerAddr(), 0))
	e.NoteErr("Dial", err)
	if err != nil {
		return
	}
	defer c.Close()
	e.NoteAddr("RemoteAddr", c.RemoteAddr())
	n, err := c.Write([]byte("x"))
	e.Note("Write.n", n)
	e.NoteErr("Write", err)
}

// SetReadBuffer and SetWriteBuffer with odd sizes.
func setBuffers(t *testing.T, e env) {
	p := newPair(t, e)
	c := asUDPConn(t, p.srv)
	for _, size := range []int{0, 1, 4096, 1 << 30, -1} {
		e.NoteErr("SetReadBuffer("+sprint(size)+")", c.SetReadBuffer(size))
		e.NoteErr("SetWriteBuffer("+sprint(size)+")", c.SetWriteBuffer(size))
	}
}

// With a small receive buffer, a flood of datagrams is dropped at the
// receiver: every send succeeds at once, and fewer datagrams arrive.
func flood(t *testing.T, e env) {
	p := newPair(t, e)
	srv := asUDPConn(t, p.srv)
	if err := srv.SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	// Fewer than the Pipe's 1024 frames, so that stacknet's drops are the
	// socket's, not the wire's.
	const sent = 500
	msg := make([]byte, 100)
	done := make(chan int, 1)
	go func() {
		ok := 0
		for range sent {
			if _, err := p.cli.Write(msg); err == nil {
				ok++
			}
		}
		done <- ok
	}()
	var ok int
	select {
	case ok = <-done:
	case <-time.After(guard):
		t.Fatalf("the sender blocked: %d datagrams not sent within %v", sent, guard)
	}
	e.Note("writes that succeeded", ok)
	e.WaitQueued(t, p.srv)
	received := 0
	buf := make([]byte, 200)
	for {
		if err := p.srv.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.srv.ReadFrom(buf); err != nil {
			break
		}
		received++
	}
	e.Note("some received", received > 0)
	e.Note("some dropped", received < sent)
	t.Logf("received %d of %d", received, sent)
}
