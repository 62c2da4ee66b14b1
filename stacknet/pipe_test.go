package stacknet

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
)

var (
	addrA = netip.MustParsePrefix("192.0.2.1/24")
	addrB = netip.MustParsePrefix("192.0.2.2/24")
)

// pair returns two stacks joined by a Pipe, A at 192.0.2.1 and B at
// 192.0.2.2, both closed at the end of the test.
func pair(t testing.TB, cfg Config) (a, b *Stack) {
	t.Helper()
	da, db := link.Pipe(1500)
	return pairOn(t, cfg, da, db)
}

func pairOn(t testing.TB, cfg Config, da, db link.Device) (a, b *Stack) {
	t.Helper()
	var err error
	if a, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if b, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if _, err := a.AddInterface(da, addrA); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddInterface(db, addrB); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestPipePing(t *testing.T) {
	a, b := pair(t, Config{})
	for _, tc := range []struct {
		from *Stack
		to   netip.Addr
	}{{a, addrB.Addr()}, {b, addrA.Addr()}, {a, addrA.Addr()}, {a, netip.MustParseAddr("127.0.0.1")}} {
		rtt, err := tc.from.Ping(ctxTimeout(t, 5*time.Second), tc.to)
		if err != nil {
			t.Fatalf("ping %v: %v", tc.to, err)
		}
		if rtt <= 0 {
			t.Errorf("ping %v: rtt %v", tc.to, rtt)
		}
	}
	st := a.Stats()
	if st.ICMP.OutEchos < 3 || st.ICMP.InEchoReps < 3 {
		t.Errorf("icmp stats: %+v", st.ICMP)
	}
	if st.ARP.Resolved == 0 {
		t.Errorf("arp stats: %+v", st.ARP)
	}
}

func TestPipeUDPEcho(t *testing.T) {
	a, b := pair(t, Config{})
	srv, err := b.ListenPacket("udp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			srv.WriteTo(buf[:n], from)
		}
	}()
	c, err := a.Dial("udp", "192.0.2.2:7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr(); got != addrA.Addr() {
		t.Errorf("LocalAddr %v, want %v", got, addrA.Addr())
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for _, size := range []int{0, 1, 100, 1472, 1473, 8000, 65507} {
		msg := bytes.Repeat([]byte{byte(size)}, size)
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("write %d: %v", size, err)
		}
		buf := make([]byte, 65536)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read %d: %v", size, err)
		}
		if !bytes.Equal(buf[:n], msg) {
			t.Fatalf("echo of %d bytes came back as %d bytes", size, n)
		}
	}
}

func TestUDPErrors(t *testing.T) {
	a, b := pair(t, Config{})
	pc, err := a.ListenPacket("udp", "192.0.2.1:4000")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()

	// A port in use.
	if _, err := a.ListenPacket("udp", ":4000"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second bind: %v, want EADDRINUSE", err)
	}
	// A non-UDP address: EINVAL, no panic.
	_, err = pc.WriteTo([]byte("x"), &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 1})
	var oe *net.OpError
	if !errors.As(err, &oe) || !errors.Is(err, syscall.EINVAL) {
		t.Errorf("WriteTo TCPAddr: %v", err)
	}
	// Oversize.
	_, err = pc.WriteTo(make([]byte, 65508), &net.UDPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 1})
	if !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("oversize: %v", err)
	}
	// Deadline.
	pc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, _, err = pc.ReadFrom(make([]byte, 10))
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &oe) || !oe.Timeout() {
		t.Errorf("deadline: %v", err)
	}
	// Connected: WriteTo is refused; the peer's port is closed, so the
	// next Read gets ECONNREFUSED.
	c, err := a.Dial("udp", "192.0.2.2:9999")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.(*UDPConn).WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 1}); !errors.Is(err, net.ErrWriteToConnected) {
		t.Errorf("WriteTo on connected: %v", err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("read after port unreachable: %v", err)
	}
	_ = b
	// Close, then use.
	pc.Close()
	if _, _, err := pc.ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
	if err := pc.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second close: %v", err)
	}
}

func TestStackCloseUnblocks(t *testing.T) {
	a, _ := pair(t, Config{})
	pc, err := a.ListenPacket("udp", ":5000")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := pc.ReadFrom(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	a.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked read after Stack.Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stack.Close did not unblock a blocked ReadFrom")
	}
}
