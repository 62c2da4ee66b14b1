package stacknet

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/timers"
)

// TestTCPFacadeLoopback: connections to the loopback and to the stack's
// own address, where both ends share one stack and every segment goes
// through the loopback's queue, never inline.
func TestTCPFacadeLoopback(t *testing.T) {
	a, _ := pair(t, Config{})
	for _, addr := range []string{"127.0.0.1:7", "192.0.2.1:8", "localhost:9"} {
		l, err := a.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			s, err := l.Accept()
			if err != nil {
				return
			}
			defer s.Close()
			io.Copy(s, s)
		}()
		c, err := a.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		msg := bytes.Repeat([]byte(addr), 100000)
		go func() {
			c.Write(msg)
			c.(*TCPConn).CloseWrite()
		}()
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, msg) {
			t.Errorf("%s: echo of %d bytes: %d bytes, %v", addr, len(msg), len(got), err)
		}
		if la := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr(); la != c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr() {
			t.Errorf("%s: local address %v", addr, la)
		}
		c.Close()
	}
}

// TestTCPFacadeNetworks: the networks and addresses Dial and Listen take,
// and the errors for the others, as package net's.
func TestTCPFacadeNetworks(t *testing.T) {
	a, _ := pair(t, Config{})
	l, err := a.Listen("tcp4", "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if la := l.Addr().(*net.TCPAddr); !la.IP.Equal(net.IPv4zero) || la.Port < defaultEphemeralLow || la.Port > defaultEphemeralHigh {
		t.Errorf("Listen(tcp4, \"\") at %v, want 0.0.0.0 and an ephemeral port", la)
	}
	c, err := a.Dial("tcp4", net.JoinHostPort("192.0.2.1", l.Addr().(*net.TCPAddr).AddrPort().String()[len("0.0.0.0:"):]))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, tc := range []struct {
		call func() error
		want string
	}{
		{func() error { _, err := a.Listen("tcp6", ":80"); return err }, "listen tcp6: unknown network tcp6"},
		{func() error { _, err := a.Listen("udp", ":80"); return err }, "listen udp :80: address :80: unexpected address type"},
		{func() error { _, err := a.Listen("tcp", "192.0.2.99:80"); return err }, "listen tcp 192.0.2.99:80: bind: cannot assign requested address"},
		{func() error { _, err := a.Dial("tcp", "[2001:db8::1]:80"); return err }, "IPv6"},
		{func() error { _, err := a.Dial("tcp", "192.0.2.2"); return err }, "missing port in address"},
	} {
		err := tc.call()
		var oe *net.OpError
		if !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want a *net.OpError saying %q", err, tc.want)
		}
	}
	if _, err := New(Config{TCP: TCPConfig{EphemeralPorts: [2]uint16{5, 4}}}); err == nil {
		t.Error("an empty port range was accepted")
	}
	if _, err := New(Config{TCP: TCPConfig{ListenBacklog: -1}}); err == nil {
		t.Error("a negative backlog was accepted")
	}
}

// TestTCPFacadeOptions: the socket options reach the connection.
func TestTCPFacadeOptions(t *testing.T) {
	a, b := pair(t, Config{})
	c, s := tfConnect(t, a, tfListen(t, b, tfServer))
	if !c.ka.Enable || c.ka.Idle != 15*time.Second || c.ka.Interval != 15*time.Second || c.ka.Count != 9 {
		t.Errorf("keepalive %+v, want Go's defaults", c.ka)
	}
	if err := c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 1500 * time.Millisecond, Interval: -1, Count: 3}); err != nil {
		t.Fatal(err)
	}
	if c.ka.Idle != 2*time.Second || c.ka.Interval != 15*time.Second || c.ka.Count != 3 {
		t.Errorf("keepalive %+v after SetKeepAliveConfig: idle rounds up to 2 s, the interval stays", c.ka)
	}
	if err := c.SetKeepAlivePeriod(time.Minute); err != nil || c.ka.Idle != time.Minute {
		t.Errorf("SetKeepAlivePeriod: %v, %+v", err, c.ka)
	}
	if err := c.SetReadBuffer(1 << 20); err != nil {
		t.Fatal(err)
	}
	if got := c.Info().RecvBuffer; got != 2*maxSocketBuffer {
		t.Errorf("SetReadBuffer(1 MiB): buffer %d, want twice rmem_max as Linux", got)
	}
	if err := c.SetWriteBuffer(1); err != nil {
		t.Fatal(err)
	}
	if got := c.Info().SendBuffer; got != 4608 {
		t.Errorf("SetWriteBuffer(1): buffer %d, want Linux's floor 4608", got)
	}
	if err := s.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !strings.Contains(errString(err), "connection reset by peer") {
		t.Errorf("SetLinger(0) then Close: peer read %v, want a reset", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestTCPFacadeTrace: TCP segments appear in the debug trace, in the
// manner of microps's tcp_dump.
func TestTCPFacadeTrace(t *testing.T) {
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, b := pair(t, Config{Logger: log})
	tfConnect(t, a, tfListen(t, b, tfServer))
	got := out.String()
	for _, w := range []string{`msg="tcp output"`, `msg="tcp input"`, `dst: 80`, `flg: 0x02 [S]`, `flg: 0x12 [S.]`, `opts: [`} {
		if !strings.Contains(got, w) {
			t.Errorf("trace lacks %q", w)
		}
	}
}

// TestTCPFacadeCloseLeavesNothing: after Stack.Close, no goroutine, timer
// or socket of TCP is left, whatever state the connections were in.
func TestTCPFacadeCloseLeavesNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		da, db := link.Pipe(1500)
		a, _ := New(Config{})
		b, _ := New(Config{})
		a.AddInterface(da, addrA)
		b.AddInterface(db, addrB)
		l, err := b.ListenTCP(tfServer)
		if err != nil {
			t.Fatal(err)
		}
		var conns []*TCPConn
		for range 4 {
			c, err := a.DialTCP(ctxTimeout(t, 10*time.Second), netip.AddrPort{}, tfServer)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		s, _ := l.AcceptTCP()
		s.Write([]byte("unread"))
		conns[0].Close() // FIN-WAIT, then TIME-WAIT
		conns[1].SetDeadline(time.Now().Add(time.Hour))
		go conns[1].Read(make([]byte, 1))
		a.Close()
		b.Close()
		for _, s := range []*Stack{a, b} {
			if n := s.timers.Len(); n != 0 {
				t.Errorf("%d timers armed after Close", n)
			}
			s.mu.Lock()
			if n := len(s.socks); n != 0 {
				t.Errorf("%d sockets left after Close", n)
			}
			s.mu.Unlock()
			s.tcp.mu.RLock()
			if n := len(s.tcp.conns) + len(s.tcp.lns) + len(s.tcp.bound); n != 0 {
				t.Errorf("%d entries left in the TCP tables after Close", n)
			}
			s.tcp.mu.RUnlock()
		}
	}
	tfWaitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// TestTCPFacadeUserTimeout, on a fake clock: with a user timeout of 2 s
// (RFC 5482), data the peer never acknowledges fails the connection with
// ETIMEDOUT about 2 s after it was sent, long before the retransmission
// count would; without one, the connection is still trying then.
func TestTCPFacadeUserTimeout(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    time.Duration // TCPConfig.UserTimeout
		set    time.Duration // SetUserTimeout, when not 0
		failed bool          // the connection has failed by 4 s
	}{
		{"none", 0, 0, false},
		{"config", 2 * time.Second, 0, true},
		{"set", 0, 2 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := timers.NewFake(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
			da, db := link.Pipe(1500)
			a, b := pairOn(t, Config{Clock: clock, TCP: TCPConfig{UserTimeout: tc.cfg}}, da, db)
			c, _ := tfConnect(t, a, tfListen(t, b, tfServer))
			if tc.set != 0 {
				if err := c.SetUserTimeout(tc.set); err != nil {
					t.Fatal(err)
				}
			}
			db.Close() // the wire is cut: nothing reaches b, nothing comes back
			if _, err := c.Write(make([]byte, 100)); err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() {
				_, err := c.Read(make([]byte, 10))
				errc <- err
			}()
			for step := 0; step < 40; step++ {
				clock.Advance(100 * time.Millisecond)
				runtime.Gosched()
				select {
				case err := <-errc:
					if !tc.failed {
						t.Fatalf("the connection failed after %v with no user timeout: %v", time.Duration(step+1)*100*time.Millisecond, err)
					}
					if step < 19 {
						t.Fatalf("the connection failed after %v, before its 2 s user timeout", time.Duration(step+1)*100*time.Millisecond)
					}
					tfOpErr(t, "read after the user timeout", err, "read", syscall.ETIMEDOUT)
					return
				default:
				}
			}
			if tc.failed {
				select {
				case err := <-errc:
					tfOpErr(t, "read after the user timeout", err, "read", syscall.ETIMEDOUT)
				case <-time.After(10 * time.Second):
					t.Fatal("the connection was still alive 4 s after its data went unacknowledged, with a 2 s user timeout")
				}
			}
			if err := c.SetUserTimeout(-time.Second); !errors.Is(err, syscall.EINVAL) {
				t.Errorf("SetUserTimeout(-1s) on a live connection: %v, want EINVAL", err)
			}
			c.Close()
		})
	}
}
