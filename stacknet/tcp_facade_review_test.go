package stacknet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/tcp"
	"github.com/stacknet/stacknet/timers"
)

// Tests from a review of the facade: Stack.Close against connections in
// every state, SetLinger with a time, races between Close, deadlines and
// the handshake, and what is left behind.

// tfAllClosed checks that every call on c fails as after its own Close.
func tfAllClosed(t *testing.T, what string, c *TCPConn) {
	t.Helper()
	buf := make([]byte, 8)
	calls := []struct {
		op   string
		call func() error
	}{
		{"read", func() error { _, err := c.Read(buf); return err }},
		{"read", func() error { _, err := c.Read(nil); return err }},
		{"write", func() error { _, err := c.Write(buf); return err }},
		{"write", func() error { _, err := c.Write(nil); return err }},
		{"close", c.Close},
		{"close", c.CloseRead},
		{"close", c.CloseWrite},
		{"set", func() error { return c.SetDeadline(time.Now()) }},
		{"set", func() error { return c.SetReadDeadline(time.Now()) }},
		{"set", func() error { return c.SetWriteDeadline(time.Now()) }},
		{"set", func() error { return c.SetNoDelay(false) }},
		{"set", func() error { return c.SetKeepAlive(false) }},
		{"set", func() error { return c.SetKeepAlivePeriod(time.Minute) }},
		{"set", func() error { return c.SetLinger(1) }},
		{"set", func() error { return c.SetReadBuffer(4096) }},
		{"set", func() error { return c.SetWriteBuffer(4096) }},
		{"readfrom", func() error { _, err := c.ReadFrom(bytes.NewReader(buf)); return err }},
	}
	for i, tc := range calls {
		var oe *net.OpError
		if err := tc.call(); !errors.As(err, &oe) || oe.Op != tc.op || !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s: call %d: %v, want *net.OpError{Op: %q} wrapping net.ErrClosed", what, i, err, tc.op)
		}
	}
}

// TestTCPReviewStackCloseEveryState: after Stack.Close every connection
// behaves as if its Close had been called, whatever state it was in,
// CLOSED ones (reset, or ended by the close handshake) and TIME-WAIT ones
// included; and nothing is left running.
func TestTCPReviewStackCloseEveryState(t *testing.T) {
	before := runtime.NumGoroutine()
	da, db := link.Pipe(1500)
	a, err := New(Config{TCP: TCPConfig{SendBuffer: 16 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(Config{TCP: TCPConfig{ReceiveBuffer: 16 << 10, ReceiveBufferMax: 16 << 10}})
	a.AddInterface(da, addrA)
	b.AddInterface(db, addrB)
	defer a.Close()
	defer b.Close()
	l, err := b.ListenTCP(tfServer)
	if err != nil {
		t.Fatal(err)
	}
	conn := func() (c, s *TCPConn) {
		t.Helper()
		ac := make(chan *TCPConn, 1)
		go func() { s, _ := l.AcceptTCP(); ac <- s }()
		c, err := a.DialTCP(ctxTimeout(t, 10*time.Second), netip.AddrPort{}, tfServer)
		if err != nil {
			t.Fatal(err)
		}
		return c, <-ac
	}

	ends := map[string]*TCPConn{}
	ends["established"], _ = conn()

	c, s := conn()
	s.SetLinger(0)
	s.Close()
	tfWaitFor(t, "the reset", func() bool { return tfState(c) == tcp.Closed })
	ends["reset"] = c

	c, s = conn()
	s.Close()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the peer's FIN: %v", err)
	}
	c.CloseWrite()
	tfWaitFor(t, "LAST-ACK to end", func() bool { return tfState(c) == tcp.Closed })
	ends["closed normally"] = c

	c, s = conn()
	c.CloseWrite()
	s.Read(make([]byte, 1))
	s.Close()
	c.Read(make([]byte, 1))
	tfWaitFor(t, "TIME-WAIT", func() bool { return tfState(c) == tcp.TimeWait })
	ends["time-wait"] = c

	rc, _ := conn()
	readc := make(chan error, 1)
	go func() { _, err := rc.Read(make([]byte, 1)); readc <- err }()
	ends["blocked read"] = rc

	wc, _ := conn()
	writec := make(chan error, 1)
	go func() { _, err := wc.Write(make([]byte, 1<<20)); writec <- err }()
	tfWaitFor(t, "the send buffer to fill", func() bool {
		in := wc.Info()
		return in.Unacked+in.Unsent >= in.SendBuffer
	})
	ends["blocked write"] = wc

	lc, _ := conn()
	lc.SetLinger(3600)
	lc.Write(make([]byte, 16<<10))
	lingerc := make(chan error, 1)
	go func() { lingerc <- lc.Close() }()
	tfWaitFor(t, "Close to linger", func() bool {
		lc.mu.Lock()
		defer lc.mu.Unlock()
		return lc.lingered != nil
	})

	a.Close()
	for name, ch := range map[string]chan error{"read": readc, "write": writec, "lingering close": lingerc} {
		select {
		case err := <-ch:
			if name == "lingering close" {
				if err != nil {
					t.Errorf("lingering Close ended by Stack.Close: %v, want nil as close(2) gives", err)
				}
			} else if !errors.Is(err, net.ErrClosed) {
				t.Errorf("blocked %s after Stack.Close: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("blocked %s not released by Stack.Close", name)
		}
	}
	for name, c := range ends {
		tfAllClosed(t, name, c)
	}
	if _, err := a.DialTCP(context.Background(), netip.AddrPort{}, tfServer); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Dial after Stack.Close: %v", err)
	}
	if _, err := a.ListenTCP(netip.AddrPort{}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Listen after Stack.Close: %v", err)
	}
	if n := a.timers.Len(); n != 0 {
		t.Errorf("%d timers armed after Stack.Close", n)
	}
	b.Close()
	tfWaitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// tfLingerPair is two stacks on one fake clock, the server's receive
// buffer small enough that a Write can leave data the window holds back.
func tfLingerPair(t *testing.T) (clock *timers.Fake, c, s *TCPConn) {
	clock = timers.NewFake(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	da, db := link.Pipe(1500)
	a, err := New(Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, _ := New(Config{Clock: clock, TCP: TCPConfig{ReceiveBuffer: 8 << 10, ReceiveBufferMax: 8 << 10}})
	t.Cleanup(func() { b.Close() })
	a.AddInterface(da, addrA)
	b.AddInterface(db, addrB)
	c, s = tfConnect(t, a, tfListen(t, b, tfServer))
	return clock, c, s
}

// tfAdvanceUntil advances the fake clock by step until done is ready,
// at most to limit: it returns how far it went.
func tfAdvanceUntil(t *testing.T, clock *timers.Fake, step, limit time.Duration, done <-chan error) (time.Duration, error) {
	t.Helper()
	for d := time.Duration(0); d <= limit; d += step {
		// Give the stacks' goroutines a moment to act on the last step
		// (the Pipe delivers on its own goroutine); the outcome does not
		// depend on it, only how many steps it takes.
		select {
		case err := <-done:
			return d, err
		case <-time.After(time.Millisecond):
		}
		clock.Advance(step)
	}
	select {
	case err := <-done:
		return limit, err
	case <-time.After(10 * time.Second):
		t.Fatalf("not done after %v on the clock", limit)
	}
	return 0, nil
}

// TestTCPReviewLinger: with SetLinger(sec > 0), Close blocks as close(2)
// does on Linux (sk_stream_wait_close) until its FIN is acknowledged, or
// for sec seconds of the stack's clock, then returns nil and leaves the
// connection to finish in the background, sending no RST (checked on
// Linux 6.18: the data held back by a zero window is still delivered
// after a lingering close timed out, and the peer then reads EOF).
func TestTCPReviewLinger(t *testing.T) {
	t.Run("acknowledged", func(t *testing.T) {
		clock, c, s := tfLingerPair(t)
		c.SetLinger(30)
		c.Write([]byte("hello"))
		done := make(chan error, 1)
		go func() { done <- c.Close() }()
		// The peer delays its ACK of the FIN by up to 40 ms (Linux's
		// pingpong mode after a FIN): Close waits for it, no longer.
		took, err := tfAdvanceUntil(t, clock, 10*time.Millisecond, 30*time.Second, done)
		if err != nil || took > time.Second {
			t.Errorf("Close returned %v after %v on the clock; want nil once the FIN is acknowledged", err, took)
		}
		if st := tfState(c); st != tcp.FinWait2 {
			t.Errorf("state after a lingering Close: %v, want FIN-WAIT-2", st)
		}
		if got, err := io.ReadAll(s); string(got) != "hello" || err != nil {
			t.Errorf("peer read %q, %v", got, err)
		}
	})
	t.Run("timed out", func(t *testing.T) {
		clock, c, s := tfLingerPair(t)
		const linger = 5
		c.SetLinger(linger)
		msg := bytes.Repeat([]byte("0123456789abcdef"), 4<<10) // 64 KiB: more than the peer's window
		if n, err := c.Write(msg); n != len(msg) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Close() }()
		took, err := tfAdvanceUntil(t, clock, 100*time.Millisecond, 2*linger*time.Second, done)
		if err != nil || took < linger*time.Second {
			t.Errorf("Close returned %v after %v on the clock; want nil after %d s", err, took, linger)
		}
		if st := tfState(c); !finUnacked(st) {
			t.Errorf("state after the linger: %v, want the FIN still unacknowledged", st)
		}
		if n := c.s.stats.TCP.OutRsts; n != 0 {
			t.Errorf("%d RSTs sent: Linux sends none when the linger time passes", n)
		}
		// The connection finishes in the background.
		readc := make(chan error, 1)
		var got []byte
		go func() {
			var err error
			got, err = io.ReadAll(s)
			readc <- err
		}()
		if _, err := tfAdvanceUntil(t, clock, 200*time.Millisecond, time.Minute, readc); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Errorf("peer read %d bytes after the lingering close, want the %d written", len(got), len(msg))
		}
	})
	t.Run("reset while lingering", func(t *testing.T) {
		_, c, s := tfLingerPair(t)
		c.SetLinger(3600)
		c.Write(bytes.Repeat([]byte("x"), 64<<10))
		done := make(chan error, 1)
		go func() { done <- c.Close() }()
		tfWaitFor(t, "Close to linger", func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.lingered != nil
		})
		s.SetLinger(0)
		s.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Close ended by a reset: %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a reset did not end the lingering Close")
		}
	})
	t.Run("no linger for an abort", func(t *testing.T) {
		_, c, s := tfLingerPair(t)
		c.SetLinger(3600)
		s.Write([]byte("unread"))
		tfWaitFor(t, "data", func() bool { return c.Info().Readable > 0 })
		if err := c.Close(); err != nil { // a RST: nothing to wait for
			t.Fatal(err)
		}
		if st := tfState(c); st != tcp.Closed {
			t.Errorf("state after Close with unread data: %v", st)
		}
	})
}

// TestTCPReviewStress: many goroutines read, write, set deadlines and
// close shared connections at once (run with -race); every call returns,
// with an error of the promised shapes, and nothing is left behind.
func TestTCPReviewStress(t *testing.T) {
	before := runtime.NumGoroutine()
	da, db := link.Pipe(1500)
	cfg := Config{TCP: TCPConfig{SendBuffer: 32 << 10, ReceiveBuffer: 32 << 10, ReceiveBufferMax: 32 << 10}}
	a, _ := New(cfg)
	b, _ := New(cfg)
	a.AddInterface(da, addrA)
	b.AddInterface(db, addrB)
	l, err := b.ListenTCP(tfServer)
	if err != nil {
		t.Fatal(err)
	}
	const conns, workers = 6, 6
	var wg sync.WaitGroup
	check := func(what string, err error) {
		var oe *net.OpError
		switch {
		case err == nil, err == io.EOF:
		case errors.As(err, &oe) && oe.Net == "tcp":
		default:
			t.Errorf("%s: %v (%T), want a *net.OpError", what, err, err)
		}
	}
	for range conns {
		ac := make(chan *TCPConn, 1)
		go func() { s, _ := l.AcceptTCP(); ac <- s }()
		c, err := a.DialTCP(ctxTimeout(t, 10*time.Second), netip.AddrPort{}, tfServer)
		if err != nil {
			t.Fatal(err)
		}
		s := <-ac
		if s == nil {
			t.Fatal("accept failed")
		}
		for _, end := range []*TCPConn{c, s} {
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 3000+w*1000)
					for i := range 200 {
						var err error
						switch (i + w) % 6 {
						case 0, 1:
							_, err = end.Write(buf)
							check("write", err)
						case 2, 3:
							_, err = end.Read(buf)
							check("read", err)
						case 4:
							check("set", end.SetDeadline(time.Now().Add(time.Duration(i%5)*time.Millisecond)))
						case 5:
							check("set", end.SetReadDeadline(time.Now().Add(time.Duration(i%3)*time.Millisecond)))
							check("set", end.SetNoDelay(i%2 == 0))
						}
						if errors.Is(err, net.ErrClosed) {
							return
						}
					}
					if w == 0 {
						check("close", end.Close())
					}
				}()
			}
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		stacks := make([]byte, 1<<20)
		t.Fatalf("a call stayed blocked:\n%s", stacks[:runtime.Stack(stacks, true)])
	}
	a.Close()
	b.Close()
	for _, s := range []*Stack{a, b} {
		if n := s.timers.Len(); n != 0 {
			t.Errorf("%d timers armed after Stack.Close", n)
		}
	}
	tfWaitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// TestTCPReviewListenerCloseRace: a listener closed while SYNs arrive
// leaves no connection in the stack's table (a child aborted before its
// machine was made used to stay there for good).
func TestTCPReviewListenerCloseRace(t *testing.T) {
	a, b := pair(t, Config{TCP: TCPConfig{SynRetries: 1}})
	for range 20 {
		l, err := b.ListenTCP(tfServer)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				if c, err := a.DialTCP(ctx, netip.AddrPort{}, tfServer); err == nil {
					c.Close()
				}
			}()
		}
		runtime.Gosched()
		l.Close()
		wg.Wait()
		tfWaitFor(t, "the server's table to empty", func() bool {
			b.tcp.mu.RLock()
			defer b.tcp.mu.RUnlock()
			for _, c := range b.tcp.conns {
				if c.passive && tfState(c) != tcp.TimeWait {
					return false
				}
			}
			return true
		})
	}
}
