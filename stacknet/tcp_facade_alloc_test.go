//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts are only meaningful without it.

package stacknet

import (
	"context"
	"io"
	"net/netip"
	"runtime"
	"testing"
	"unsafe"
)

// TestTCPSteadyStateAllocs: a 1 KiB Write and the Read of it at the other
// end allocate nothing anywhere in the process once the connection is
// warm: not in the facade, the machine, the input path or the device.
func TestTCPSteadyStateAllocs(t *testing.T) {
	a, b := pair(t, Config{})
	c, s := tfConnect(t, a, tfListen(t, b, tfServer))
	msg, buf := make([]byte, 1024), make([]byte, 1024)
	round := func(w io.Writer, r io.Reader) {
		if _, err := w.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
	}
	// Warm up: grow the buffers, fill the pools, open the windows.
	for range 2000 {
		round(c, s)
		round(s, c)
	}
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"client to server", func() { round(c, s) }},
		{"server to client", func() { round(s, c) }},
	} {
		if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
			t.Errorf("%s: %v allocations per 1 KiB Write+Read, want 0", tc.name, n)
		}
	}
}

// TestTCPIdleConnHeap: 1,000 idle established connections, both ends on
// two stacks, take at most 6 KiB of heap per pair (the target),
// and the facade's own part of each end stays a 256-byte object, with no
// channel or deadline until a call has to wait.
func TestTCPIdleConnHeap(t *testing.T) {
	if size := unsafe.Sizeof(TCPConn{}); size > 256 {
		t.Errorf("TCPConn is %d bytes, want at most 256", size)
	}
	a, b := pair(t, Config{})
	l := tfListen(t, b, tfServer)
	dial := func() (c, s *TCPConn) {
		ac := make(chan *TCPConn, 1)
		go func() { s, _ := l.AcceptTCP(); ac <- s }()
		c, err := a.DialTCP(context.Background(), netip.AddrPort{}, tfServer)
		if err != nil {
			t.Fatal(err)
		}
		return c, <-ac
	}
	const pairs = 1000
	ends := make([]*TCPConn, 0, 2*pairs)
	// Warm up: the stacks' buffers and the tables' first growth are not
	// the connections' cost.
	for range pairs {
		c, s := dial()
		c.Close()
		s.Close()
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range pairs {
		c, s := dial()
		ends = append(ends, c, s)
	}
	for _, c := range ends {
		if c.waiters.Load() != nil {
			t.Fatal("an idle connection holds wake-up channels")
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perPair := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / pairs
	t.Logf("%d B of heap per idle pair of ends", perPair)
	if perPair > 6<<10 {
		t.Errorf("%d B of heap per idle connection pair, want at most 6 KiB", perPair)
	}
	runtime.KeepAlive(ends)
}
