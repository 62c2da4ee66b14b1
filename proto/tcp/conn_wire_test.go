package tcp

import (
	"testing"
	"time"
)

// wire is an Emitter that allocates nothing once warm: each segment is
// written in wire format into a slot of a reusable buffer, and parsed
// back when delivered. It is the harness of the allocation test and the
// benchmarks.
type wire struct {
	bufs [][]byte
	n    int
	// watch, if set, sees each segment's fields and payload length.
	watch func(f *Fields, o *Options, payload int)
}

func (w *wire) Emit(f *Fields, o *Options, p1, p2 []byte) {
	if w.watch != nil {
		w.watch(f, o, len(p1)+len(p2))
	}
	hl := HeaderLen + OptionsLen(o)
	size := hl + len(p1) + len(p2)
	if w.n == len(w.bufs) {
		w.bufs = append(w.bufs, make([]byte, 0, 65536))
	}
	b := w.bufs[w.n][:size]
	copy(b[hl:], p1)
	copy(b[hl+len(p1):], p2)
	PutHeader(b, *f, o)
	w.bufs[w.n] = b
	w.n++
}

// deliver hands every segment queued to c and empties the wire.
func (w *wire) deliver(c *Conn, now time.Time) {
	for i := 0; i < w.n; i++ {
		h, err := Parse(w.bufs[i])
		if err != nil {
			panic(err)
		}
		seg, err := SegmentFrom(h)
		if err != nil {
			panic(err)
		}
		c.Input(&seg, now)
	}
	w.n = 0
}

// bulk is two Conns connected through wires, for steady-state transfer.
type bulk struct {
	a, b   *Conn
	ab, ba *wire
	now    time.Time
	buf    []byte
	chunk  []byte
}

func newBulk(tb testing.TB, cfg Config) *bulk {
	x := &bulk{ab: &wire{}, ba: &wire{}, now: t0, buf: make([]byte, 1<<16), chunk: make([]byte, 64<<10)}
	ca, cb := cfg, cfg
	ca.Local, ca.Remote, ca.ISS, ca.TSEpoch = addrA, addrB, 1, t0
	cb.Local, cb.Remote, cb.ISS, cb.TSEpoch = addrB, addrA, 2, t0
	x.a = NewConn(&ca, x.ab)
	x.b = NewConn(&cb, x.ba)
	x.a.Open(x.now)
	h, _ := Parse(x.ab.bufs[0])
	syn, _ := SegmentFrom(h)
	x.ab.n = 0
	x.b.AcceptSYN(&syn, x.now)
	x.ba.deliver(x.a, x.now)
	x.ab.deliver(x.b, x.now)
	if x.a.State() != Established || x.b.State() != Established {
		tb.Fatalf("states %v %v", x.a.State(), x.b.State())
	}
	return x
}

// round writes n octets from a to b and runs the exchange until they are
// read and acknowledged; the clock advances 100 µs a round trip.
func (x *bulk) round(n int) int {
	got := 0
	w, _ := x.a.Write(x.chunk[:n], x.now)
	for range 1000 {
		x.now = x.now.Add(50 * time.Microsecond)
		x.ab.deliver(x.b, x.now)
		for {
			k, _ := x.b.Read(x.buf, x.now)
			if k == 0 {
				break
			}
			got += k
		}
		x.timers()
		x.ba.deliver(x.a, x.now)
		x.timers()
		if x.ab.n == 0 && x.ba.n == 0 && x.a.Info().Unacked == 0 && got >= w {
			break
		}
	}
	return got
}

func (x *bulk) timers() {
	for _, c := range []*Conn{x.a, x.b} {
		if d := c.Deadline(); !d.IsZero() && !d.After(x.now) {
			c.Timer(x.now)
		}
	}
}
