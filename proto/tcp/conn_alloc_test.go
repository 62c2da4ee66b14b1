//go:build !race

package tcp

import (
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// TestConnSteadyStateAllocs: a data and ACK exchange between two Conns
// allocates nothing once the buffers are in place.
func TestConnSteadyStateAllocs(t *testing.T) {
	for _, n := range []int{100, 1448, 64 << 10} {
		x := newBulk(t, Config{NoDelay: true})
		for range 20 {
			x.round(n)
		}
		allocs := testing.AllocsPerRun(200, func() {
			if got := x.round(n); got != n {
				t.Fatalf("round moved %d of %d", got, n)
			}
		})
		if allocs != 0 {
			t.Errorf("%d octets a round: %v allocations", n, allocs)
		}
	}
}

// TestConnIdleHeapAllocs measures the heap an idle ESTABLISHED Conn holds
// once its buffers were given back: under 3 KiB.
func TestConnIdleHeapAllocs(t *testing.T) {
	const n = 500
	keep := make([]*bulk, 0, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		x := newBulk(t, Config{NoDelay: true})
		x.round(1000)
		// Idle past the buffer release.
		x.now = x.now.Add(2 * time.Second)
		x.timers()
		x.now = x.now.Add(2 * time.Second)
		x.timers()
		x.ab.bufs, x.ba.bufs = nil, nil // the wires are the test's, not the Conn's
		x.buf, x.chunk = nil, nil
		keep = append(keep, x)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perConn := float64(after.HeapAlloc-before.HeapAlloc) / float64(2*n)
	t.Logf("heap per idle Conn: %.0f bytes (sizeof Conn %d)", perConn, unsafe.Sizeof(Conn{}))
	for _, x := range keep {
		if x.a.sq.Cap() != 0 || x.b.rq.Allocated() != 0 {
			t.Fatalf("buffers held: send %d recv %d", x.a.sq.Cap(), x.b.rq.Allocated())
		}
	}
	if perConn > 3072 {
		t.Errorf("heap per idle Conn %.0f bytes, want under 3 KiB", perConn)
	}
	runtime.KeepAlive(keep)
}
