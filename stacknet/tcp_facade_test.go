package stacknet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stacknet/stacknet/proto/arp"
	"github.com/stacknet/stacknet/proto/tcp"
)

// The facade's own tests: each behaviour of the brief's list on two
// stacks joined by a Pipe. Error shapes are compared with package net's
// on the kernel's loopback in tcp_facade_compat_test.go.

var tfServer = netip.MustParseAddrPort("192.0.2.2:80")

// arpFast gives up on a neighbour after 30 ms, not seconds.
var arpFast = arp.Config{RetransTime: 10 * time.Millisecond, MaxRetries: 3}

// tfListen listens on b at addr, closing the listener at the end.
func tfListen(t testing.TB, s *Stack, addr netip.AddrPort) *TCPListener {
	t.Helper()
	l, err := s.ListenTCP(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// tfConnect dials from a to the listener l on b and accepts: the client
// and the server end, both closed at the end of the test.
func tfConnect(t testing.TB, a *Stack, l *TCPListener) (client, server *TCPConn) {
	t.Helper()
	type res struct {
		c   *TCPConn
		err error
	}
	ac := make(chan res, 1)
	go func() {
		c, err := l.AcceptTCP()
		ac <- res{c, err}
	}()
	client, err := a.DialTCP(ctxTimeout(t, 10*time.Second), netip.AddrPort{}, l.local)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	r := <-ac
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return client, r.c
}

// tfWaitFor polls cond until it holds, failing the test after a while:
// for states reached by the other stack's goroutines, where there is no
// event to wait on.
func tfWaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// tfState is the machine's state of c.
func tfState(c *TCPConn) tcp.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tc.State()
}

// tfOpErr checks that err is a *net.OpError with op and net "tcp" whose
// chain matches target.
func tfOpErr(t testing.TB, what string, err error, op string, target error) *net.OpError {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != op || oe.Net != "tcp" || !errors.Is(err, target) {
		t.Fatalf("%s: %v (%#v), want *net.OpError{Op: %q} wrapping %v", what, err, err, op, target)
	}
	return oe
}

func TestTCPFacadeEcho(t *testing.T) {
	a, b := pair(t, Config{})
	l := tfListen(t, b, tfServer)
	c, s := tfConnect(t, a, l)

	la := c.LocalAddr().(*net.TCPAddr)
	if la.AddrPort().Addr() != addrA.Addr() || la.Port < defaultEphemeralLow || la.Port > defaultEphemeralHigh || len(la.IP) != 4 {
		t.Errorf("client LocalAddr %#v: want 192.0.2.1, a 4-byte IP as package net's, an ephemeral port", la)
	}
	if c.RemoteAddr().String() != "192.0.2.2:80" || s.LocalAddr().String() != "192.0.2.2:80" || s.RemoteAddr().String() != la.String() {
		t.Errorf("addresses: client %v->%v, server %v->%v", c.LocalAddr(), c.RemoteAddr(), s.LocalAddr(), s.RemoteAddr())
	}
	if l.Addr().String() != "192.0.2.2:80" {
		t.Errorf("listener Addr %v", l.Addr())
	}

	for _, size := range []int{1, 100, 1460, 1461, 100 << 10, 1 << 20} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(i*7 + size)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write(msg)
			errc <- err
		}()
		got := make([]byte, size)
		if _, err := io.ReadFull(s, got); err != nil {
			t.Fatalf("%d bytes: read: %v", size, err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("%d bytes: write: %v", size, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes arrived changed", size)
		}
		// And back.
		go func() {
			_, err := s.Write(got)
			errc <- err
		}()
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes back: %v", size, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}

	// Half-close each way: EOF, every time, while the other way works.
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if n, err := s.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Fatalf("server read after the client's FIN: %d, %v; want 0, io.EOF itself", n, err)
		}
	}
	if _, err := s.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "after" {
		t.Fatalf("client read after its own FIN: %q, %v", buf, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("client read after the server's close: %d, %v", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	st := a.Stats().TCP
	if st.ActiveOpens != 1 || st.InSegs == 0 || st.OutSegs == 0 {
		t.Errorf("client stats %+v", st)
	}
	if st := b.Stats().TCP; st.PassiveOpens != 1 {
		t.Errorf("server stats %+v", st)
	}
	tfWaitFor(t, "CurrEstab to return to 0", func() bool {
		return a.Stats().TCP.CurrEstab == 0 && b.Stats().TCP.CurrEstab == 0
	})
}

// TestTCPFacadeConcurrentWrites: Writes from several goroutines each land
// whole, even when each is far larger than the send buffer.
func TestTCPFacadeConcurrentWrites(t *testing.T) {
	a, b := pair(t, Config{TCP: TCPConfig{SendBuffer: 16 << 10, ReceiveBuffer: 16 << 10, ReceiveBufferMax: 16 << 10}})
	c, s := tfConnect(t, a, tfListen(t, b, tfServer))
	const writers, size = 8, 100 << 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Write(bytes.Repeat([]byte{byte('a' + w)}, size)); err != nil {
				t.Error(err)
			}
		}()
	}
	got := make([]byte, writers*size)
	if _, err := io.ReadFull(s, got); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	seen := map[byte]bool{}
	for i := 0; i < len(got); i += size {
		block := got[i : i+size]
		if bytes.Count(block, block[:1]) != size || seen[block[0]] {
			t.Fatalf("block %d is not one Write's bytes: writes interleaved", i/size)
		}
		seen[block[0]] = true
	}
}

// TestTCPFacadeBlockedWrite: a Write blocks while the peer does not read,
// and a deadline, Close and a reset each unblock it, the deadline with the
// bytes it queued.
func TestTCPFacadeBlockedWrite(t *testing.T) {
	small := Config{TCP: TCPConfig{SendBuffer: 16 << 10, ReceiveBuffer: 16 << 10, ReceiveBufferMax: 16 << 10}}
	big := make([]byte, 1<<20)
	for _, tc := range []struct {
		name    string
		unblock func(c, s *TCPConn)
		check   func(t *testing.T, n int, err error)
	}{
		{"deadline", func(c, s *TCPConn) { c.SetWriteDeadline(time.Now()) }, func(t *testing.T, n int, err error) {
			oe := tfOpErr(t, "write past deadline", err, "write", os.ErrDeadlineExceeded)
			if !oe.Timeout() || n == 0 || n >= len(big) {
				t.Errorf("Write returned %d, %v: want the bytes queued, a timeout", n, err)
			}
		}},
		{"close", func(c, s *TCPConn) { c.Close() }, func(t *testing.T, n int, err error) {
			tfOpErr(t, "write during close", err, "write", net.ErrClosed)
		}},
		{"reset", func(c, s *TCPConn) { s.SetLinger(0); s.Close() }, func(t *testing.T, n int, err error) {
			tfOpErr(t, "write during reset", err, "write", syscall.ECONNRESET)
		}},
		{"stack close", func(c, s *TCPConn) { c.s.Close() }, func(t *testing.T, n int, err error) {
			tfOpErr(t, "write during Stack.Close", err, "write", net.ErrClosed)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pair(t, small)
			c, s := tfConnect(t, a, tfListen(t, b, tfServer))
			type res struct {
				n   int
				err error
			}
			done := make(chan res, 1)
			go func() {
				n, err := c.Write(big)
				done <- res{n, err}
			}()
			tfWaitFor(t, "the send buffer to fill", func() bool {
				in := c.Info()
				return in.Unacked+in.Unsent >= in.SendBuffer && len(done) == 0
			})
			tc.unblock(c, s)
			r := <-done
			tc.check(t, r.n, r.err)
		})
	}
}

// TestTCPFacadeCloseUnblocks: Close, a deadline moved while blocked, and
// Stack.Close each end a blocked Read; Listener.Close and Stack.Close a
// blocked Accept; Stack.Close a blocked Dial.
func TestTCPFacadeCloseUnblocks(t *testing.T) {
	t.Run("read/close", func(t *testing.T) {
		a, b := pair(t, Config{})
		c, _ := tfConnect(t, a, tfListen(t, b, tfServer))
		err := tfBlocked(t, func() error { _, err := c.Read(make([]byte, 1)); return err }, func() { c.Close() })
		tfOpErr(t, "read during close", err, "read", net.ErrClosed)
	})
	t.Run("many readers and writers/close", func(t *testing.T) {
		a, b := pair(t, Config{TCP: TCPConfig{SendBuffer: 16 << 10}})
		c, _ := tfConnect(t, a, tfListen(t, b, tfServer))
		const each = 4
		errc := make(chan error, 2*each)
		for range each {
			go func() { _, err := c.Read(make([]byte, 1)); errc <- err }()
			go func() { _, err := c.Write(make([]byte, 1<<20)); errc <- err }()
		}
		tfWaitFor(t, "the send buffer to fill", func() bool {
			in := c.Info()
			return in.Unacked+in.Unsent >= in.SendBuffer
		})
		c.Close()
		for range 2 * each {
			select {
			case err := <-errc:
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("blocked call after Close: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a blocked call stayed blocked after Close")
			}
		}
	})
	t.Run("read/deadline moved", func(t *testing.T) {
		a, b := pair(t, Config{})
		c, _ := tfConnect(t, a, tfListen(t, b, tfServer))
		c.SetReadDeadline(time.Now().Add(time.Hour))
		err := tfBlocked(t, func() error { _, err := c.Read(make([]byte, 1)); return err },
			func() { c.SetReadDeadline(time.Now().Add(time.Millisecond)) })
		if oe := tfOpErr(t, "read past a moved deadline", err, "read", os.ErrDeadlineExceeded); !oe.Timeout() {
			t.Error("Timeout() is false")
		}
	})
	t.Run("read/first deadline set while blocked", func(t *testing.T) {
		a, b := pair(t, Config{})
		c, _ := tfConnect(t, a, tfListen(t, b, tfServer))
		err := tfBlocked(t, func() error { _, err := c.Read(make([]byte, 1)); return err },
			func() { c.SetDeadline(time.Now().Add(time.Millisecond)) })
		tfOpErr(t, "read past a deadline set while blocked", err, "read", os.ErrDeadlineExceeded)
	})
	t.Run("accept/first deadline set while blocked", func(t *testing.T) {
		_, b := pair(t, Config{})
		l := tfListen(t, b, tfServer)
		err := tfBlocked(t, func() error { _, err := l.Accept(); return err },
			func() { l.SetDeadline(time.Now().Add(time.Millisecond)) })
		tfOpErr(t, "accept past a deadline set while blocked", err, "accept", os.ErrDeadlineExceeded)
	})
	t.Run("read/stack close", func(t *testing.T) {
		a, b := pair(t, Config{})
		c, _ := tfConnect(t, a, tfListen(t, b, tfServer))
		err := tfBlocked(t, func() error { _, err := c.Read(make([]byte, 1)); return err }, func() { a.Close() })
		tfOpErr(t, "read during Stack.Close", err, "read", net.ErrClosed)
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Close after Stack.Close: %v", err)
		}
	})
	t.Run("accept/close", func(t *testing.T) {
		_, b := pair(t, Config{})
		l := tfListen(t, b, tfServer)
		err := tfBlocked(t, func() error { _, err := l.Accept(); return err }, func() { l.Close() })
		oe := tfOpErr(t, "accept during close", err, "accept", net.ErrClosed)
		if oe.Source != nil || oe.Addr.String() != "192.0.2.2:80" {
			t.Errorf("accept error addresses: %v, %v", oe.Source, oe.Addr)
		}
	})
	t.Run("accept/stack close", func(t *testing.T) {
		_, b := pair(t, Config{})
		l := tfListen(t, b, tfServer)
		err := tfBlocked(t, func() error { _, err := l.Accept(); return err }, func() { b.Close() })
		tfOpErr(t, "accept during Stack.Close", err, "accept", net.ErrClosed)
	})
	t.Run("dial/stack close", func(t *testing.T) {
		a, _ := pair(t, Config{})
		// A neighbour that exists for ARP but never answers TCP.
		a.Interfaces()[1].AddNeighbour(netip.MustParseAddr("192.0.2.9"), net.HardwareAddr{2, 0, 0, 0, 0, 9})
		err := tfBlocked(t, func() error {
			_, err := a.Dial("tcp", "192.0.2.9:80")
			return err
		}, func() { a.Close() })
		tfOpErr(t, "dial during Stack.Close", err, "dial", net.ErrClosed)
	})
}

// tfBlocked runs call, which must block, until unblock makes it return.
func tfBlocked(t *testing.T, call func() error, unblock func()) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- call() }()
	// No event says the call has blocked; a call that returns early is
	// caught here, and one still running when unblock runs is what is
	// tested either way.
	select {
	case err := <-errc:
		t.Fatalf("call returned without blocking: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	unblock()
	select {
	case err := <-errc:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the call stayed blocked")
	}
	return nil
}

// TestTCPFacadeReset: after the peer's RST, Read reports ECONNRESET once,
// then io.EOF; Write then EPIPE. A Write first takes the ECONNRESET.
func TestTCPFacadeReset(t *testing.T) {
	for _, readFirst := range []bool{true, false} {
		a, b := pair(t, Config{})
		c, s := tfConnect(t, a, tfListen(t, b, tfServer))
		s.SetLinger(0)
		s.Close()
		tfWaitFor(t, "the RST", func() bool { return tfState(c) == tcp.Closed })
		if readFirst {
			_, err := c.Read(make([]byte, 1))
			tfOpErr(t, "read after RST", err, "read", syscall.ECONNRESET)
			if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("second read after RST: %d, %v; want io.EOF as Linux", n, err)
			}
			_, err = c.Write([]byte("x"))
			tfOpErr(t, "write after RST was read", err, "write", syscall.EPIPE)
		} else {
			_, err := c.Write([]byte("x"))
			tfOpErr(t, "write after RST", err, "write", syscall.ECONNRESET)
			_, err = c.Write([]byte("x"))
			tfOpErr(t, "second write after RST", err, "write", syscall.EPIPE)
		}
		if st := a.Stats().TCP; st.EstabResets != 1 || st.CurrEstab != 0 {
			t.Errorf("stats after a reset: %+v", st)
		}
		err := c.CloseWrite()
		tfOpErr(t, "CloseWrite after RST", err, "close", syscall.ENOTCONN)
	}
}

func TestTCPFacadeDialErrors(t *testing.T) {
	a, b := pair(t, Config{ARP: arpFast})
	tfListen(t, b, tfServer)
	refused := netip.MustParseAddrPort("192.0.2.2:81")
	for _, tc := range []struct {
		name   string
		ctx    func() context.Context
		laddr  netip.AddrPort
		raddr  netip.AddrPort
		target error
		check  func(t *testing.T, oe *net.OpError)
	}{
		{name: "refused", raddr: refused, target: syscall.ECONNREFUSED, check: func(t *testing.T, oe *net.OpError) {
			var se *os.SyscallError
			if !errors.As(oe.Err, &se) || se.Syscall != "connect" {
				t.Errorf("inside: %#v, want *os.SyscallError for connect", oe.Err)
			}
			if oe.Source != nil || oe.Addr.String() != "192.0.2.2:81" {
				t.Errorf("addresses %v %v", oe.Source, oe.Addr)
			}
		}},
		{name: "no route", raddr: netip.MustParseAddrPort("203.0.113.1:80"), target: syscall.ENETUNREACH},
		{name: "dead neighbour", raddr: netip.MustParseAddrPort("192.0.2.99:80"), target: syscall.EHOSTUNREACH},
		{name: "broadcast", raddr: netip.MustParseAddrPort("192.0.2.255:80"), target: syscall.ENETUNREACH},
		{name: "not our address", laddr: netip.MustParseAddrPort("192.0.2.7:0"), raddr: tfServer, target: syscall.EADDRNOTAVAIL, check: func(t *testing.T, oe *net.OpError) {
			if oe.Source == nil || oe.Source.String() != "192.0.2.7:0" {
				t.Errorf("Source %v, want the local address asked for", oe.Source)
			}
		}},
		{name: "cancelled", raddr: tfServer, ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, target: context.Canceled},
		{name: "deadline", raddr: tfServer, ctx: func() context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}, target: context.DeadlineExceeded, check: func(t *testing.T, oe *net.OpError) {
			if !oe.Timeout() || oe.Err.Error() != "i/o timeout" {
				t.Errorf("%v: want package net's i/o timeout", oe)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxTimeout(t, 30*time.Second)
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			c, err := a.DialTCP(ctx, tc.laddr, tc.raddr)
			if err == nil {
				c.Close()
				t.Fatal("dial succeeded")
			}
			oe := tfOpErr(t, tc.name, err, "dial", tc.target)
			if ra, ok := oe.Addr.(*net.TCPAddr); !ok || ra.AddrPort() != netip.AddrPortFrom(netip.AddrFrom16(tc.raddr.Addr().As16()), tc.raddr.Port()) {
				t.Errorf("Addr %#v, want the address dialled, as *net.TCPAddr", oe.Addr)
			}
			if tc.check != nil {
				tc.check(t, oe)
			}
		})
	}
	if st := b.Stats().TCP; st.InNoSocket == 0 || st.OutRsts == 0 {
		t.Errorf("the refusal was not counted: %+v", st)
	}
	if st := a.Stats().TCP; st.AttemptFails < 2 {
		t.Errorf("failed attempts not counted: %+v", st)
	}
}

// TestTCPFacadeDialCancel: cancelling a dial under way aborts it, sending
// nothing more; cancelling after it succeeded does nothing.
func TestTCPFacadeDialCancel(t *testing.T) {
	a, b := pair(t, Config{})
	a.Interfaces()[1].AddNeighbour(netip.MustParseAddr("192.0.2.9"), net.HardwareAddr{2, 0, 0, 0, 0, 9})
	ctx, cancel := context.WithCancel(context.Background())
	err := tfBlocked(t, func() error {
		_, err := a.DialContext(ctx, "tcp", "192.0.2.9:80")
		return err
	}, cancel)
	oe := tfOpErr(t, "cancelled dial", err, "dial", context.Canceled)
	if oe.Err.Error() != "operation was canceled" {
		t.Errorf("cancelled dial: %v, want package net's text", err)
	}
	tfWaitFor(t, "the half-open connection to go", func() bool {
		a.tcp.mu.RLock()
		defer a.tcp.mu.RUnlock()
		return len(a.tcp.conns) == 0
	})

	l := tfListen(t, b, tfServer)
	ctx, cancel = context.WithCancel(context.Background())
	c, err := a.DialContext(ctx, "tcp", "192.0.2.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cancel()
	if _, err := c.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "still here" {
		t.Fatalf("after cancel: %q, %v", buf, err)
	}
}
