package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stacknet/stacknet/timers"
)

// impairFake is a Device for these tests. Written frames are copied into
// sent (with the clock's time in stamps) unless discard is set; frames to
// read come from inbox, or are generated when gen > 0.
type impairFake struct {
	kind    Kind
	mtu     int
	clock   timers.Clock // stamps writes; nil means time.Now
	discard bool         // count written frames but keep nothing
	onWrite func([]byte) // if set, sees every written frame instead of sent

	mu       sync.Mutex
	cond     sync.Cond
	sent     [][]byte
	stamps   []time.Time
	nsent    int
	failAt   int // if > 0, WriteFrames fails once nsent reaches it
	inbox    [][]byte
	waiting  bool // a reader is blocked on an empty inbox
	closed   bool
	gen      int // frames still to generate
	genNext  int // id of the next generated frame
	genSize  func(id int) int
	genEOF   bool // return io.EOF once gen runs out
	closeCnt int
}

func newImpairFake(kind Kind) *impairFake {
	f := &impairFake{kind: kind, mtu: 1500}
	f.cond.L = &f.mu
	return f
}

func (f *impairFake) MTU() int { return f.mtu }
func (f *impairFake) Kind() Kind {
	return f.kind
}

func (f *impairFake) HardwareAddr() net.HardwareAddr {
	if f.kind == IP {
		return nil
	}
	return net.HardwareAddr{2, 0, 0, 0, 0, 1}
}

func (f *impairFake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.closeCnt++
	f.cond.Broadcast()
	return nil
}

func (f *impairFake) WriteFrames(frames [][]byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, ErrClosed
	}
	for i, fr := range frames {
		if f.failAt > 0 && f.nsent >= f.failAt {
			return i, errors.New("impairFake: write failed")
		}
		f.nsent++
		switch {
		case f.onWrite != nil:
			f.onWrite(fr)
		case !f.discard:
			f.sent = append(f.sent, slices.Clone(fr))
			now := time.Now()
			if f.clock != nil {
				now = f.clock.Now()
			}
			f.stamps = append(f.stamps, now)
		}
	}
	f.cond.Broadcast()
	return len(frames), nil
}

func (f *impairFake) ReadFrames(bufs [][]byte, sizes []int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gen > 0 {
		n := 0
		for ; n < len(bufs) && f.gen > 0; n++ {
			sizes[n] = impairFill(bufs[n][:f.genSize(f.genNext)], f.genNext)
			f.gen--
			f.genNext++
		}
		return n, nil
	}
	if f.genEOF {
		return 0, io.EOF
	}
	for len(f.inbox) == 0 && !f.closed {
		f.waiting = true
		f.cond.Broadcast()
		f.cond.Wait()
	}
	f.waiting = false
	if f.closed {
		return 0, ErrClosed
	}
	n := 0
	for ; n < len(bufs) && len(f.inbox) > 0; n++ {
		sizes[n] = copy(bufs[n], f.inbox[0])
		f.inbox = f.inbox[1:]
	}
	return n, nil
}

// feed queues frames to be read.
func (f *impairFake) feed(frames ...[]byte) {
	f.mu.Lock()
	for _, fr := range frames {
		f.inbox = append(f.inbox, slices.Clone(fr))
	}
	f.cond.Broadcast()
	f.mu.Unlock()
}

// waitDrained blocks until a reader has taken everything fed and come
// back for more, so that what it read has been fully handled.
func (f *impairFake) waitDrained() {
	f.mu.Lock()
	for !(len(f.inbox) == 0 && f.waiting) && !f.closed {
		f.cond.Wait()
	}
	f.mu.Unlock()
}

// waitSent blocks until n frames have been written.
func (f *impairFake) waitSent(n int) {
	f.mu.Lock()
	for f.nsent < n {
		f.cond.Wait()
	}
	f.mu.Unlock()
}

func (f *impairFake) snapshot() ([][]byte, []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent), slices.Clone(f.stamps)
}

// impairFill writes frame id into b: the id in the first 8 bytes, which
// corruption never reaches on an Ethernet device, then a pattern.
func impairFill(b []byte, id int) int {
	var idb [8]byte
	binary.BigEndian.PutUint64(idb[:], uint64(id))
	n := copy(b, idb[:])
	for i := n; i < len(b); i++ {
		b[i] = byte(id*7 + i)
	}
	return len(b)
}

func impairFrame(id, size int) []byte {
	b := make([]byte, size)
	impairFill(b, id)
	return b
}

func impairID(b []byte) int {
	return int(binary.BigEndian.Uint64(b[:8]))
}

func impairIDs(frames [][]byte) []int {
	ids := make([]int, len(frames))
	for i, f := range frames {
		ids[i] = impairID(f)
	}
	return ids
}

// impairBitDiff counts differing bits and returns the index of the last.
func impairBitDiff(a, b []byte) (n, at int) {
	at = -1
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			for bit := range 8 {
				if x&(1<<bit) != 0 {
					n, at = n+1, i*8+bit
				}
			}
		}
	}
	return n, at
}

var impairEpoch = time.Unix(1_000_000_000, 0)

// impairManual builds an Impaired on a fake clock.
func impairManual(kind Kind, seed uint64, out, in Impairment) (*Impaired, *impairFake, *timers.Fake) {
	clk := timers.NewFake(impairEpoch)
	f := newImpairFake(kind)
	f.clock = clk
	return Impair(f, seed, out, in, ImpairClock(clk)), f, clk
}

func TestImpairPassThrough(t *testing.T) {
	for _, kind := range []Kind{Ethernet, IP} {
		t.Run(kind.String(), func(t *testing.T) {
			f := newImpairFake(kind)
			d := Impair(f, 1, Impairment{}, Impairment{})
			defer d.Close()
			if d.MTU() != f.MTU() || d.Kind() != kind || !bytes.Equal(d.HardwareAddr(), f.HardwareAddr()) {
				t.Fatalf("MTU/Kind/HardwareAddr = %d/%v/%v, want %d/%v/%v", d.MTU(), d.Kind(), d.HardwareAddr(), f.MTU(), kind, f.HardwareAddr())
			}
			in := [][]byte{impairFrame(0, 60), impairFrame(1, 1514), impairFrame(2, 20)}
			if n, err := d.WriteFrames(in); n != 3 || err != nil {
				t.Fatalf("WriteFrames = %d, %v", n, err)
			}
			sent, _ := f.snapshot()
			if !slices.EqualFunc(sent, in, bytes.Equal) {
				t.Fatalf("sent %v, want %v", impairIDs(sent), impairIDs(in))
			}
			f.feed(in...)
			bufs, sizes := [][]byte{make([]byte, 1514), make([]byte, 1514), make([]byte, 1514)}, make([]int, 3)
			n, err := d.ReadFrames(bufs, sizes)
			if n != 3 || err != nil {
				t.Fatalf("ReadFrames = %d, %v", n, err)
			}
			for i := range n {
				if !bytes.Equal(bufs[i][:sizes[i]], in[i]) {
					t.Errorf("read frame %d differs", i)
				}
			}
			out, inStats := d.Stats()
			if out != (ImpairStats{Frames: 3}) || inStats != (ImpairStats{Frames: 3}) {
				t.Errorf("Stats = %+v, %+v", out, inStats)
			}
		})
	}
}

func TestImpairAllocs(t *testing.T) {
	frames := [][]byte{impairFrame(0, 1514), impairFrame(1, 60), impairFrame(2, 600)}
	bufs := [][]byte{make([]byte, 1514), make([]byte, 1514), make([]byte, 1514), make([]byte, 1514)}
	sizes := make([]int, len(bufs))
	lossy := Impairment{Loss: 0.2, Corrupt: 0.5, Duplicate: 0.5}
	tests := []struct {
		name    string
		out, in Impairment
		read    bool
	}{
		{"write/zero", Impairment{}, Impairment{}, false},
		{"write/lossy", lossy, Impairment{}, false},
		{"write/reorder", Impairment{Reorder: 0.5}, Impairment{}, false},
		{"read/zero", Impairment{}, Impairment{}, true},
		{"read/lossy", Impairment{}, lossy, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newImpairFake(Ethernet)
			f.discard = true
			f.genSize, f.genEOF = func(int) int { return 200 }, true
			d := Impair(f, 7, tt.out, tt.in, ImpairClock(timers.NewFake(impairEpoch)))
			defer d.Close()
			op := func() {
				if tt.read {
					f.gen = 3
					if _, err := d.ReadFrames(bufs, sizes); err != nil && err != io.EOF {
						t.Fatal(err)
					}
					return
				}
				if _, err := d.WriteFrames(frames); err != nil {
					t.Fatal(err)
				}
			}
			for range 100 { // warm the pools
				op()
			}
			if a := testing.AllocsPerRun(1000, op); a != 0 {
				t.Errorf("%v allocations per call, want 0", a)
			}
		})
	}
}

// impairRun offers n Ethernet frames through one direction of an
// Impaired (egress if out, else ingress) and returns what came out.
func impairRun(t *testing.T, seed uint64, m Impairment, n int, out bool, batch int) ([][]byte, ImpairStats) {
	t.Helper()
	f := newImpairFake(Ethernet)
	size := func(id int) int { return 15 + id%200 }
	var got [][]byte
	var st ImpairStats
	if out {
		f.onWrite = func(b []byte) { got = append(got, slices.Clone(b)) }
		d := Impair(f, seed, m, Impairment{})
		defer d.Close()
		frames := make([][]byte, 0, batch)
		for id := 0; id < n; id++ {
			frames = append(frames, impairFrame(id, size(id)))
			if len(frames) == batch || id == n-1 {
				if k, err := d.WriteFrames(frames); k != len(frames) || err != nil {
					t.Fatalf("WriteFrames = %d, %v", k, err)
				}
				frames = frames[:0]
			}
		}
		st, _ = d.Stats()
		return got, st
	}
	f.gen, f.genSize, f.genEOF = n, size, true
	d := Impair(f, seed, Impairment{}, m)
	defer d.Close()
	bufs, sizes := make([][]byte, batch), make([]int, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 1514)
	}
	for {
		k, err := d.ReadFrames(bufs, sizes)
		for i := range k {
			got = append(got, slices.Clone(bufs[i][:sizes[i]]))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("ReadFrames: %v", err)
		}
	}
	_, st = d.Stats()
	return got, st
}

func TestImpairRates(t *testing.T) {
	const n = 100_000
	tests := []struct {
		name string
		m    Impairment
	}{
		{"loss", Impairment{Loss: 0.1}},
		{"duplicate", Impairment{Duplicate: 0.05}},
		{"corrupt", Impairment{Corrupt: 0.2}},
		{"all", Impairment{Loss: 0.3, Duplicate: 0.25, Corrupt: 0.01}},
	}
	for _, tt := range tests {
		for _, out := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/out=%v", tt.name, out), func(t *testing.T) {
				got, st := impairRun(t, 42, tt.m, n, out, 16)
				var unique, dups, corrupt int
				last := -1
				for _, b := range got {
					id := impairID(b)
					if id == last {
						dups++
						continue
					}
					if id < last {
						t.Fatalf("frame %d after %d: reordered", id, last)
					}
					last = id
					unique++
					if !bytes.Equal(b, impairFrame(id, len(b))) {
						corrupt++
					}
				}
				if st.Frames != n || st.Dropped != uint64(n-unique) || st.Duplicated != uint64(dups) || st.Corrupted != uint64(corrupt) {
					t.Errorf("stats %+v; measured dropped %d, duplicated %d, corrupted %d", st, n-unique, dups, corrupt)
				}
				check := func(what string, p float64, hits, trials int) {
					// Five standard deviations: deterministic with a fixed
					// seed, and wide enough for any seed to pass.
					got, tol := float64(hits)/float64(trials), 5*math.Sqrt(p*(1-p)/float64(trials))
					if math.Abs(got-p) > tol {
						t.Errorf("%s rate %.4f, want %.4f ± %.4f", what, got, p, tol)
					}
				}
				check("loss", tt.m.Loss, n-unique, n)
				check("duplicate", tt.m.Duplicate, dups, unique)
				check("corrupt", tt.m.Corrupt, corrupt, unique)
			})
		}
	}
}

func TestImpairDeterminism(t *testing.T) {
	m := Impairment{Loss: 0.2, Duplicate: 0.2, Corrupt: 0.2}
	for _, out := range []bool{true, false} {
		a, _ := impairRun(t, 99, m, 2000, out, 5)
		b, _ := impairRun(t, 99, m, 2000, out, 5)
		c, _ := impairRun(t, 100, m, 2000, out, 5)
		if !slices.EqualFunc(a, b, bytes.Equal) {
			t.Errorf("out=%v: two runs with the same seed differ", out)
		}
		if slices.EqualFunc(a, c, bytes.Equal) {
			t.Errorf("out=%v: different seeds gave the same output", out)
		}
	}
}

// Ingress decisions depend on the frame sequence, not on how ReadFrames
// batches it.
func TestImpairIngressBatching(t *testing.T) {
	m := Impairment{Loss: 0.2, Duplicate: 0.4, Corrupt: 0.3}
	want, _ := impairRun(t, 5, m, 3000, false, 1)
	for _, batch := range []int{2, 3, 8, 64} {
		got, _ := impairRun(t, 5, m, 3000, false, batch)
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("batch %d: output differs from batch 1", batch)
		}
	}
}

func TestImpairCorrupt(t *testing.T) {
	tests := []struct {
		kind    Kind
		size    int
		flipped bool
	}{
		{Ethernet, 14, false}, // nothing after the header
		{Ethernet, 15, true},
		{Ethernet, 60, true},
		{Ethernet, 1514, true},
		{IP, 0, false},
		{IP, 1, true},
		{IP, 40, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/%d", tt.kind, tt.size), func(t *testing.T) {
			f := newImpairFake(tt.kind)
			all := Impairment{Corrupt: 1}
			d := Impair(f, 3, all, all)
			defer d.Close()
			orig := make([][]byte, 50)
			frames := make([][]byte, 50)
			for i := range frames {
				frames[i] = impairFrame(i, tt.size)
				orig[i] = slices.Clone(frames[i])
			}
			if _, err := d.WriteFrames(frames); err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(frames, orig, bytes.Equal) {
				t.Fatal("WriteFrames changed the caller's frames")
			}
			f.feed(frames...)
			var got [][]byte
			bufs, sizes := [][]byte{make([]byte, 1514), make([]byte, 1514)}, []int{0, 0}
			for len(got) < len(frames) {
				n, err := d.ReadFrames(bufs, sizes)
				if err != nil {
					t.Fatal(err)
				}
				for i := range n {
					got = append(got, slices.Clone(bufs[i][:sizes[i]]))
				}
			}
			sent, _ := f.snapshot()
			for i, out := range append(sent, got...) {
				bits, at := impairBitDiff(out, orig[i%len(orig)])
				want := 0
				if tt.flipped {
					want = 1
				}
				if bits != want || (bits == 1 && at < 8*HeaderLen(tt.kind)) {
					t.Fatalf("frame %d: %d bits flipped (last at bit %d), want %d after the header", i, bits, at, want)
				}
			}
			out, in := d.Stats()
			if wantN := uint64(len(frames)) * uint64(impairB2I(tt.flipped)); out.Corrupted != wantN || in.Corrupted != wantN {
				t.Errorf("Corrupted = %d/%d, want %d", out.Corrupted, in.Corrupted, wantN)
			}
		})
	}
}

func TestImpairReorder(t *testing.T) {
	for _, batched := range []bool{false, true} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) {
			d, f, clk := impairManual(Ethernet, 1, Impairment{Reorder: 1, ReorderHold: 5 * time.Millisecond}, Impairment{})
			defer d.Close()
			var frames [][]byte
			for id := range 7 {
				frames = append(frames, impairFrame(id, 60))
			}
			if batched {
				d.WriteFrames(frames)
			} else {
				for _, fr := range frames {
					d.WriteFrames([][]byte{fr})
				}
			}
			sent, _ := f.snapshot()
			if ids := impairIDs(sent); !slices.Equal(ids, []int{1, 0, 3, 2, 5, 4}) {
				t.Fatalf("sent %v, want [1 0 3 2 5 4] with 6 held", ids)
			}
			// Frame 6 has no successor: it leaves after ReorderHold.
			clk.Advance(5*time.Millisecond - 1)
			if sent, _ = f.snapshot(); len(sent) != 6 {
				t.Fatalf("held frame sent before ReorderHold")
			}
			clk.Advance(1)
			sent, stamps := f.snapshot()
			if len(sent) != 7 || impairID(sent[6]) != 6 || !stamps[6].Equal(impairEpoch.Add(5*time.Millisecond)) {
				t.Fatalf("after ReorderHold sent %v at %v", impairIDs(sent), stamps)
			}
			if out, _ := d.Stats(); out.Reordered != 4 || out.Delayed != 4 {
				t.Errorf("Reordered/Delayed = %d/%d, want 4/4", out.Reordered, out.Delayed)
			}
		})
	}
}

func TestImpairDelay(t *testing.T) {
	const delay = 10 * time.Millisecond
	d, f, clk := impairManual(Ethernet, 1, Impairment{Delay: delay}, Impairment{})
	defer d.Close()
	d.WriteFrames([][]byte{impairFrame(0, 60)})
	clk.Advance(3 * time.Millisecond)
	d.WriteFrames([][]byte{impairFrame(1, 60), impairFrame(2, 60)})
	steps := []struct {
		advance time.Duration
		ids     []int
	}{
		{delay - 3*time.Millisecond - 1, nil},
		{1, []int{0}},
		{3*time.Millisecond - 1, []int{0}},
		{1, []int{0, 1, 2}},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		sent, stamps := f.snapshot()
		if ids := impairIDs(sent); !slices.Equal(ids, s.ids) {
			t.Fatalf("at %v sent %v, want %v", clk.Now().Sub(impairEpoch), ids, s.ids)
		}
		for i, st := range stamps {
			want := impairEpoch.Add(delay)
			if i > 0 {
				want = want.Add(3 * time.Millisecond)
			}
			if !st.Equal(want) {
				t.Errorf("frame %d sent at %v, want %v", i, st.Sub(impairEpoch), want.Sub(impairEpoch))
			}
		}
	}
	if out, _ := d.Stats(); out.Delayed != 3 {
		t.Errorf("Delayed = %d, want 3", out.Delayed)
	}
}

func TestImpairJitter(t *testing.T) {
	const delay, jitter, gap = time.Millisecond, 5 * time.Millisecond, 100 * time.Microsecond
	d, f, clk := impairManual(Ethernet, 8, Impairment{Delay: delay, Jitter: jitter}, Impairment{})
	defer d.Close()
	const n = 1000
	for id := range n {
		d.WriteFrames([][]byte{impairFrame(id, 60)})
		clk.Advance(gap)
	}
	clk.Advance(delay + jitter)
	sent, stamps := f.snapshot()
	if ids := impairIDs(sent); len(ids) != n || !slices.IsSorted(ids) {
		t.Fatalf("jitter reordered or lost frames: %d sent", len(ids))
	}
	var spread time.Duration
	for id, st := range stamps {
		offered := impairEpoch.Add(time.Duration(id) * gap)
		extra := st.Sub(offered) - delay
		if extra < 0 || extra >= jitter {
			t.Fatalf("frame %d delayed %v beyond Delay, want [0, %v)", id, extra, jitter)
		}
		spread = max(spread, extra)
	}
	if spread < jitter/2 {
		t.Errorf("largest extra delay %v: jitter not applied", spread)
	}
}

func TestImpairRate(t *testing.T) {
	const rate, size = 10_000, 100 // 10 ms per frame
	t.Run("queue", func(t *testing.T) {
		d, f, clk := impairManual(Ethernet, 1, Impairment{Rate: rate, QueueLimit: 5, Delay: time.Millisecond}, Impairment{})
		defer d.Close()
		var frames [][]byte
		for id := range 8 {
			frames = append(frames, impairFrame(id, size))
		}
		if n, err := d.WriteFrames(frames); n != 8 || err != nil {
			t.Fatalf("WriteFrames = %d, %v", n, err)
		}
		if out, _ := d.Stats(); out.QueueDrops != 3 {
			t.Errorf("QueueDrops = %d, want 3", out.QueueDrops)
		}
		for k := 1; k <= 5; k++ {
			clk.Advance(10*time.Millisecond - 1)
			if sent, _ := f.snapshot(); len(sent) != k-1 {
				t.Fatalf("%d frames sent before frame %d was due", len(sent), k-1)
			}
			clk.Advance(1)
		}
		clk.Advance(time.Millisecond)
		sent, stamps := f.snapshot()
		if ids := impairIDs(sent); !slices.Equal(ids, []int{0, 1, 2, 3, 4}) {
			t.Fatalf("sent %v", ids)
		}
		for k, st := range stamps {
			if want := time.Duration(k+1)*10*time.Millisecond + time.Millisecond; st.Sub(impairEpoch) != want {
				t.Errorf("frame %d sent at %v, want %v", k, st.Sub(impairEpoch), want)
			}
		}
	})
	t.Run("throughput", func(t *testing.T) {
		// Offer ten times the rate for a second: exactly a second's worth
		// leaves, and the queue holds the rest.
		d, f, clk := impairManual(Ethernet, 1, Impairment{Rate: rate}, Impairment{})
		defer d.Close()
		for id := range 1000 {
			d.WriteFrames([][]byte{impairFrame(id, size)})
			clk.Advance(time.Millisecond)
		}
		if sent, _ := f.snapshot(); len(sent)*size != rate {
			t.Errorf("%d bytes left in 1 s at %d B/s", len(sent)*size, rate)
		}
	})
	t.Run("remainder", func(t *testing.T) {
		d, f, clk := impairManual(IP, 1, Impairment{Rate: 3}, Impairment{})
		defer d.Close()
		d.WriteFrames([][]byte{{1}, {2}, {3}})
		clk.Advance(time.Second)
		_, stamps := f.snapshot()
		if len(stamps) != 3 || !stamps[2].Equal(impairEpoch.Add(time.Second)) {
			t.Errorf("3 bytes at 3 B/s sent at %v, want the last at 1s", stamps)
		}
	})
}

func TestImpairIngressDuplicates(t *testing.T) {
	f := newImpairFake(Ethernet)
	d := Impair(f, 1, Impairment{}, Impairment{Duplicate: 1})
	defer d.Close()
	f.feed(impairFrame(0, 60), impairFrame(1, 70), impairFrame(2, 80))
	bufs, sizes := make([][]byte, 4), make([]int, 4)
	for i := range bufs {
		bufs[i] = make([]byte, 1514)
	}
	var ids []int
	for _, want := range []int{4, 2} {
		n, err := d.ReadFrames(bufs, sizes)
		if n != want || err != nil {
			t.Fatalf("ReadFrames = %d, %v; want %d", n, err, want)
		}
		for i := range n {
			if !bytes.Equal(bufs[i][:sizes[i]], impairFrame(impairID(bufs[i]), sizes[i])) {
				t.Errorf("frame %d damaged", i)
			}
			ids = append(ids, impairID(bufs[i]))
		}
	}
	if !slices.Equal(ids, []int{0, 0, 1, 1, 2, 2}) {
		t.Errorf("read %v, want [0 0 1 1 2 2]", ids)
	}
}

func TestImpairIngressTimed(t *testing.T) {
	read := func(d *Impaired) []int {
		bufs, sizes := [][]byte{make([]byte, 1514), make([]byte, 1514), make([]byte, 1514)}, make([]int, 3)
		n, err := d.ReadFrames(bufs, sizes)
		if err != nil {
			return []int{-1} // matches no expectation
		}
		return impairIDs(bufs[:n])
	}
	ready := func(d *Impaired) int {
		d.in.mu.Lock()
		defer d.in.mu.Unlock()
		return d.in.ready.len()
	}
	t.Run("delay", func(t *testing.T) {
		d, f, clk := impairManual(Ethernet, 1, Impairment{}, Impairment{Delay: 5 * time.Millisecond})
		defer d.Close()
		got := make(chan []int)
		go func() { got <- read(d) }() // starts the reader goroutine
		f.feed(impairFrame(0, 60), impairFrame(1, 60))
		f.waitDrained()
		clk.Advance(5*time.Millisecond - 1)
		if n := ready(d); n != 0 {
			t.Fatalf("%d frames ready before Delay", n)
		}
		clk.Advance(1)
		if ids := <-got; !slices.Equal(ids, []int{0, 1}) {
			t.Errorf("read %v, want [0 1]", ids)
		}
	})
	t.Run("reorder", func(t *testing.T) {
		d, f, _ := impairManual(Ethernet, 1, Impairment{}, Impairment{Reorder: 1})
		defer d.Close()
		f.feed(impairFrame(0, 60), impairFrame(1, 60))
		if ids := read(d); !slices.Equal(ids, []int{1, 0}) {
			t.Errorf("read %v, want [1 0]", ids)
		}
		// Turning reordering off goes on through the reader.
		d.SetImpairment(Impairment{}, Impairment{})
		f.feed(impairFrame(2, 60))
		if ids := read(d); !slices.Equal(ids, []int{2}) {
			t.Errorf("read %v, want [2]", ids)
		}
		if _, in := d.Stats(); in.Frames != 3 || in.Reordered != 1 {
			t.Errorf("ingress stats %+v", in)
		}
	})
	t.Run("error", func(t *testing.T) {
		f := newImpairFake(Ethernet)
		f.genEOF = true
		d := Impair(f, 1, Impairment{}, Impairment{Delay: time.Millisecond})
		defer d.Close()
		bufs, sizes := [][]byte{make([]byte, 1514)}, []int{0}
		if _, err := d.ReadFrames(bufs, sizes); err != io.EOF {
			t.Errorf("ReadFrames error %v, want io.EOF from the device", err)
		}
	})
}

func TestImpairSetImpairment(t *testing.T) {
	f := newImpairFake(Ethernet)
	d := Impair(f, 1, Impairment{Loss: 1}, Impairment{})
	defer d.Close()
	d.WriteFrames([][]byte{impairFrame(0, 60), impairFrame(1, 60)})
	d.SetImpairment(Impairment{}, Impairment{})
	d.WriteFrames([][]byte{impairFrame(2, 60)})
	sent, _ := f.snapshot()
	if ids := impairIDs(sent); !slices.Equal(ids, []int{2}) {
		t.Errorf("sent %v, want [2]", ids)
	}
	if out, _ := d.Stats(); out.Frames != 3 || out.Dropped != 2 {
		t.Errorf("stats %+v", out)
	}
}

func TestImpairWriteError(t *testing.T) {
	f := newImpairFake(Ethernet)
	f.failAt = 3
	d := Impair(f, 1, Impairment{Duplicate: 1}, Impairment{})
	defer d.Close()
	// Sent: 0 0 1, then the device fails on the second copy of frame 1.
	n, err := d.WriteFrames([][]byte{impairFrame(0, 60), impairFrame(1, 60), impairFrame(2, 60)})
	if n != 1 || err == nil {
		t.Errorf("WriteFrames = %d, %v; want 1 taken and an error", n, err)
	}
}

func TestImpairClose(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newImpairFake(Ethernet)
	m := Impairment{Delay: time.Hour, Reorder: 0.5}
	d := Impair(f, 1, m, m)
	d.WriteFrames([][]byte{impairFrame(0, 60), impairFrame(1, 60), impairFrame(2, 60)})
	errc := make(chan error)
	go func() {
		_, err := d.ReadFrames([][]byte{make([]byte, 1514)}, []int{0})
		errc <- err
	}()
	f.feed(impairFrame(3, 60))
	f.waitDrained() // the reader goroutine runs and holds frame 3
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != ErrClosed {
		t.Errorf("blocked ReadFrames returned %v, want ErrClosed", err)
	}
	if err := d.Close(); err != nil || f.closeCnt != 1 {
		t.Errorf("second Close = %v, device closed %d times", err, f.closeCnt)
	}
	if _, err := d.WriteFrames([][]byte{impairFrame(4, 60)}); err != ErrClosed {
		t.Errorf("WriteFrames after Close: %v", err)
	}
	if _, err := d.ReadFrames([][]byte{make([]byte, 1514)}, []int{0}); err != ErrClosed {
		t.Errorf("ReadFrames after Close: %v", err)
	}
	if sent, _ := f.snapshot(); len(sent) != 0 {
		t.Errorf("%d held frames sent", len(sent))
	}
	impairNoLeak(t, before)
}

func TestImpairCloseUnblocksDirectRead(t *testing.T) {
	f := newImpairFake(IP)
	d := Impair(f, 1, Impairment{}, Impairment{Loss: 0.5})
	errc := make(chan error)
	go func() {
		_, err := d.ReadFrames([][]byte{make([]byte, 1500)}, []int{0})
		errc <- err
	}()
	f.waitDrained()
	d.Close()
	if err := <-errc; err != ErrClosed {
		t.Errorf("ReadFrames returned %v, want ErrClosed", err)
	}
}

// impairNoLeak waits for the goroutine count to fall back to before. A
// system timer's callback may still be on its way out when Close returns.
func impairNoLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want %d:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

// With the system clock, a delayed frame leaves no earlier than Delay.
func TestImpairSystemClock(t *testing.T) {
	const delay = 20 * time.Millisecond
	f := newImpairFake(Ethernet)
	d := Impair(f, 1, Impairment{Delay: delay}, Impairment{})
	defer d.Close()
	start := time.Now()
	d.WriteFrames([][]byte{impairFrame(0, 60)})
	f.waitSent(1)
	_, stamps := f.snapshot()
	if got := stamps[0].Sub(start); got < delay {
		t.Errorf("frame left after %v, want at least %v", got, delay)
	}
}

func TestImpairConcurrentWriters(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newImpairFake(Ethernet)
	f.discard = true
	d := Impair(f, 1, Impairment{Loss: 0.1, Duplicate: 0.1, Corrupt: 0.1, Delay: time.Millisecond, Jitter: time.Millisecond}, Impairment{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 500 {
				d.WriteFrames([][]byte{impairFrame(w*1000+i, 100)})
			}
		})
	}
	wg.Wait()
	out, _ := d.Stats()
	want := out.Frames - out.Dropped + out.Duplicated - out.QueueDrops
	f.waitSent(int(want))
	if out.Frames != 4000 {
		t.Errorf("Frames = %d, want 4000", out.Frames)
	}
	d.Close()
	impairNoLeak(t, before)
}

func BenchmarkImpairedWrite(b *testing.B) {
	for _, bb := range []struct {
		name string
		m    Impairment
	}{
		{"passthrough", Impairment{}},
		{"lossy", Impairment{Loss: 0.01, Corrupt: 0.01, Duplicate: 0.01}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			f := newImpairFake(Ethernet)
			f.discard = true
			d := Impair(f, 1, bb.m, Impairment{})
			defer d.Close()
			frames := [][]byte{impairFrame(0, 1514)}
			b.SetBytes(1514)
			b.ReportAllocs()
			for b.Loop() {
				d.WriteFrames(frames)
			}
		})
	}
}

// FuzzImpairIngress checks that ingress output does not depend on how
// ReadFrames batches frames, and that nothing panics.
func FuzzImpairIngress(f *testing.F) {
	f.Add(uint64(1), uint16(100), uint8(3), uint8(50), uint8(100), uint8(50))
	f.Add(uint64(7), uint16(500), uint8(1), uint8(0), uint8(255), uint8(0))
	f.Add(uint64(9), uint16(30), uint8(16), uint8(255), uint8(255), uint8(255))
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, batch, loss, dup, corrupt uint8) {
		m := Impairment{Loss: float64(loss) / 255, Duplicate: float64(dup) / 255, Corrupt: float64(corrupt) / 255}
		count := int(n % 1000)
		want, wst := impairRun(t, seed, m, count, false, 1)
		got, gst := impairRun(t, seed, m, count, false, 1+int(batch%32))
		if !slices.EqualFunc(got, want, bytes.Equal) || gst != wst {
			t.Fatalf("batch %d: output differs from batch 1", 1+batch%32)
		}
		if uint64(len(got)) != wst.Frames-wst.Dropped+wst.Duplicated {
			t.Fatalf("%d frames out, stats %+v", len(got), wst)
		}
	})
}
