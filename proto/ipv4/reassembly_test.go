package ipv4

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stacknet/stacknet/timers"
)

// reasmTest is a Reassembler on a fake clock that records its timeouts.
type reasmTest struct {
	*Reassembler
	clock *timers.Fake
	ts    *timers.Service

	mu       sync.Mutex
	timeouts [][]byte
}

func newReasmTest(t testing.TB, cfg ReasmConfig) *reasmTest {
	t.Helper()
	rt := &reasmTest{clock: timers.NewFake(time.Unix(1e9, 0))}
	rt.ts = timers.New(rt.clock)
	rt.Reassembler = NewReassembler(cfg, rt.ts, func(first []byte) {
		// No lock of the reassembler is held: Stats would deadlock.
		_ = rt.Stats()
		rt.mu.Lock()
		rt.timeouts = append(rt.timeouts, first)
		rt.mu.Unlock()
	})
	t.Cleanup(func() {
		rt.Close()
		rt.ts.Close()
	})
	return rt
}

func (rt *reasmTest) timedOut() [][]byte {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return slices.Clone(rt.timeouts)
}

// mustAdd adds f and fails unless it gets the error want.
func (rt *reasmTest) mustAdd(t testing.TB, f Header, want error) Header {
	t.Helper()
	out, err := rt.Add(f)
	if !errors.Is(err, want) {
		t.Fatalf("Add(%v) = %v, want %v", f, err, want)
	}
	if err != nil && out != nil {
		t.Fatalf("Add returned a datagram with error %v", err)
	}
	return out
}

// checkStats compares every counter of rt, Pending and Bytes included,
// with want.
func (rt *reasmTest) checkStats(t testing.TB, want ReasmStats) {
	t.Helper()
	got := rt.Stats()
	if got != want {
		t.Fatalf("Stats = %+v\n         want %+v", got, want)
	}
}

// frag builds a fragment of the datagram with the given ID: data at byte
// offset off, MF as given.
func frag(t testing.TB, id uint16, off int, mf bool, data []byte) Header {
	t.Helper()
	var flags uint16
	if mf {
		flags = FlagMF
	}
	return build(t, Fields{ID: id, Flags: flags, FragOff: off, TTL: 64, Protocol: ProtoUDP, Src: testSrc, Dst: testDst}, nil, data)
}

func TestReasmGolden(t *testing.T) {
	whole := readHex(t, "whole")
	var frags []Header
	for _, name := range []string{"frag0", "frag1", "frag2"} {
		h, err := Parse(readHex(t, name))
		if err != nil {
			t.Fatal(err)
		}
		frags = append(frags, h)
	}
	orders := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, order := range orders {
		rt := newReasmTest(t, ReasmConfig{})
		var out Header
		for i, j := range order {
			out = rt.mustAdd(t, frags[j], nil)
			if (out != nil) != (i == len(order)-1) {
				t.Fatalf("order %v: step %d returned %v", order, i, out)
			}
		}
		sameBytes(t, "reassembled", out, whole)
		rt.checkStats(t, ReasmStats{ReasmReqds: 3, ReasmOKs: 1})
	}
}

// TestReasmRoundTrip fragments datagrams of many sizes at several MTUs
// and reassembles them in order, in reverse and shuffled.
func TestReasmRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	sizes := []int{0, 1, 7, 8, 9, 40, 47, 48, 49, 100, 547, 548, 549, 556, 557, 1471, 1472, 1473, 1480, 1481,
		4096, 8972, 8980, 8981, 9000, 32768, 65000, 65514, 65515}
	for range 10 {
		sizes = append(sizes, r.IntN(65516))
	}
	optionSets := [][]byte{nil, {0x94, 4, 0, 0}, {7, 7, 4, 0, 0, 0, 0, 0, 0x94, 4, 0, 0}}
	for _, mtu := range []int{68, 576, 1500, 9000} {
		for i, n := range sizes {
			opts := optionSets[i%len(optionSets)]
			if n+HeaderLen+len(opts) > MaxDatagram {
				opts = nil
			}
			d := build(t, Fields{ID: uint16(i), TTL: 64, Protocol: ProtoUDP, Src: testSrc, Dst: testDst}, opts, pattern(n, byte(i)))
			frags := fragments(t, d, mtu)
			if len(frags) == 1 {
				sameBytes(t, "unfragmented", frags[0], d)
				continue
			}
			for _, order := range []string{"forward", "reverse", "shuffled"} {
				switch order {
				case "reverse":
					slices.Reverse(frags)
				case "shuffled":
					r.Shuffle(len(frags), func(i, j int) { frags[i], frags[j] = frags[j], frags[i] })
				}
				rt := newReasmTest(t, ReasmConfig{MaxFragments: 8192})
				var out Header
				for k, f := range frags {
					out = rt.mustAdd(t, f, nil)
					if (out != nil) != (k == len(frags)-1) {
						t.Fatalf("%d bytes, MTU %d, %s: fragment %d of %d returned %d bytes", n, mtu, order, k, len(frags), len(out))
					}
				}
				if !bytes.Equal(out, d) {
					t.Fatalf("%d bytes, MTU %d, %s: reassembled\n%v\nwant\n%v", n, mtu, order, out, d)
				}
				if s := rt.Stats(); s.Pending != 0 || s.Bytes != 0 || s.ReasmOKs != 1 {
					t.Fatalf("after reassembly: %+v", s)
				}
			}
		}
	}
}

// TestReasmPermutations is a property test: over many seeds, datagrams
// cut into fragments of random sizes, sent interleaved in a random order
// with random exact duplicates, come back whole.
func TestReasmPermutations(t *testing.T) {
	type piece struct {
		h  Header
		dg int
	}
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 99))
		rt := newReasmTest(t, ReasmConfig{})
		var want []Header
		var all, dups []piece
		for id := range uint16(1 + r.IntN(4)) {
			n := 9 + r.IntN(3000)
			d := build(t, Fields{ID: id, TTL: 64, Protocol: ProtoUDP, Src: testSrc, Dst: testDst}, nil, pattern(n, byte(seed)))
			for off := 0; off < n; {
				size := 8 * (1 + r.IntN(40)) // irregular sizes, multiples of 8
				if off+size >= n {
					size = n - off
				}
				if size == n {
					size = 8
				}
				p := piece{frag(t, id, off, off+size < n, d.Payload()[off:off+size]), len(want)}
				all = append(all, p)
				if r.IntN(5) == 0 {
					dups = append(dups, p)
				}
				off += size
			}
			want = append(want, d)
		}
		r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		// Each duplicate goes after its original and before another
		// fragment of its datagram (once complete, a duplicate would
		// start a new reassembly).
		sent := 0
		for _, p := range dups {
			orig, lastOther := -1, -1
			for i, q := range all {
				switch {
				case &q.h[0] == &p.h[0]:
					if orig < 0 {
						orig = i
					}
				case q.dg == p.dg:
					lastOther = i
				}
			}
			if lastOther < orig {
				continue
			}
			all = slices.Insert(all, orig+1+r.IntN(lastOther-orig), p)
			sent++
		}
		got := make([]Header, len(want))
		for _, p := range all {
			out, err := rt.Add(p.h)
			if err != nil {
				t.Fatalf("seed %d: Add: %v", seed, err)
			}
			if out != nil {
				if got[p.dg] != nil {
					t.Fatalf("seed %d: datagram %d completed twice", seed, p.dg)
				}
				got[p.dg] = out
			}
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("seed %d: datagram %d: got %v, want %v", seed, i, got[i], want[i])
			}
		}
		rt.checkStats(t, ReasmStats{ReasmReqds: uint64(len(all)), ReasmOKs: uint64(len(want)), Duplicates: uint64(sent)})
	}
}

func TestReasmDuplicate(t *testing.T) {
	rt := newReasmTest(t, ReasmConfig{})
	a := frag(t, 1, 0, true, pattern(16, 0))
	b := frag(t, 1, 16, false, pattern(5, 16))
	rt.mustAdd(t, a, nil)
	before := rt.Stats()
	rt.mustAdd(t, a, nil)
	if s := rt.Stats(); s.Duplicates != 1 || s.Bytes != before.Bytes {
		t.Fatalf("duplicate: %+v (before %+v)", s, before)
	}
	out := rt.mustAdd(t, b, nil)
	if out == nil || !bytes.Equal(out.Payload(), append(pattern(16, 0), pattern(5, 16)...)) {
		t.Fatalf("reassembled %v", out)
	}
	rt.checkStats(t, ReasmStats{ReasmReqds: 3, ReasmOKs: 1, Duplicates: 1})
}

// TestReasmOverlap checks that overlapping or inconsistent fragments drop
// the whole datagram, that its later fragments are dropped until the
// timeout (RFC 5722), and that no ICMP is asked for.
func TestReasmOverlap(t *testing.T) {
	tests := []struct {
		name  string
		held  [][3]int // offset, length, last (1) of fragments held, pattern data
		add   [3]int
		other bool // add carries data other than the pattern
	}{
		{"overlaps the previous", [][3]int{{0, 16, 0}}, [3]int{8, 16, 0}, false},
		{"overlaps the next", [][3]int{{16, 16, 0}}, [3]int{8, 16, 0}, false},
		{"inside another", [][3]int{{0, 32, 0}}, [3]int{8, 8, 0}, false},
		{"covers another", [][3]int{{8, 8, 0}}, [3]int{0, 32, 0}, false},
		{"same offset, longer", [][3]int{{0, 8, 0}}, [3]int{0, 16, 0}, false},
		{"same offset and length, other bytes", [][3]int{{0, 8, 0}}, [3]int{0, 8, 0}, true},
		{"two last fragments ending apart", [][3]int{{16, 5, 1}}, [3]int{24, 5, 1}, false},
		{"last fragment ending before held data", [][3]int{{32, 8, 0}}, [3]int{8, 8, 1}, false},
		{"last fragment ending with held data", [][3]int{{0, 16, 0}}, [3]int{8, 8, 1}, false},
		{"non-last fragment at the end", [][3]int{{16, 8, 1}}, [3]int{16, 8, 0}, false},
		{"non-last fragment beyond the end", [][3]int{{16, 8, 1}}, [3]int{40, 8, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := newReasmTest(t, ReasmConfig{})
			data := pattern(64, 0)
			mk := func(f [3]int, other bool) Header {
				d := data[f[0] : f[0]+f[1]]
				if other {
					d = pattern(f[1], 1)
				}
				return frag(t, 5, f[0], f[2] == 0, d)
			}
			for _, f := range tt.held {
				rt.mustAdd(t, mk(f, false), nil)
			}
			rt.mustAdd(t, mk(tt.add, tt.other), ErrOverlap)
			n := uint64(len(tt.held) + 1)
			rt.checkStats(t, ReasmStats{ReasmReqds: n, ReasmFails: 1, Overlaps: 1, Pending: 1, Bytes: datagramOverhead})
			// Later fragments, even ones that would complete a fresh
			// datagram, are dropped until the timeout.
			rt.mustAdd(t, frag(t, 5, 0, true, data[:8]), ErrOverlap)
			rt.mustAdd(t, frag(t, 5, 8, false, data[8:16]), ErrOverlap)
			n += 2
			rt.checkStats(t, ReasmStats{ReasmReqds: n, ReasmFails: 1, Overlaps: 1, Pending: 1, Bytes: datagramOverhead})
			rt.clock.Advance(DefaultReasmTimeout)
			if len(rt.timedOut()) != 0 {
				t.Error("onTimeout called for a datagram dropped for overlap")
			}
			rt.checkStats(t, ReasmStats{ReasmReqds: n, ReasmFails: 1, Overlaps: 1})
			// Then the key is free again.
			rt.mustAdd(t, frag(t, 5, 0, true, data[:8]), nil)
			if out := rt.mustAdd(t, frag(t, 5, 8, false, data[8:16]), nil); out == nil {
				t.Error("fresh datagram after the timeout not reassembled")
			}
		})
	}
}

func TestReasmBadFragment(t *testing.T) {
	whole, err := Parse(readHex(t, "whole"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		h    Header
		want error
	}{
		{"not a fragment", whole, ErrBadFragment},
		{"empty middle", frag(t, 1, 8, true, nil), ErrBadFragment},
		{"empty last", frag(t, 1, 8, false, nil), ErrBadFragment},
		{"odd-sized middle", frag(t, 1, 8, true, pattern(12, 0)), ErrBadFragment},
		{"odd-sized first", frag(t, 1, 0, true, pattern(7, 0)), ErrBadFragment},
		{"too short", Header(whole[:19]), ErrBadFragment},
		{"IHL beyond", Header{0x4f, 0, 0, 20, 0, 0, 0x20, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, ErrBadFragment},
		{"IHL below 5", Header{0x41, 0, 0, 20, 0, 0, 0x20, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, ErrBadFragment},
		// Ping of death: data beyond 65535 - 20.
		{"beyond the largest datagram", frag(t, 1, 65528, false, pattern(8, 0)), ErrTooBig},
		{"one byte beyond", frag(t, 1, 65512, false, pattern(4, 0)), ErrTooBig},
	}
	rt := newReasmTest(t, ReasmConfig{})
	for _, tt := range tests {
		rt.mustAdd(t, tt.h, tt.want)
	}
	if s := rt.Stats(); s.Pending != 0 || s.Bytes != 0 || s.ReasmFails != 6 {
		t.Errorf("bad fragments left state: %+v", s)
	}
}

// TestReasmOddSizes checks irregular (but legal) fragment sizes: middle
// fragments of different multiples of 8, a last fragment of one byte.
func TestReasmOddSizes(t *testing.T) {
	rt := newReasmTest(t, ReasmConfig{})
	data := pattern(8+24+16+1, 0)
	parts := [][2]int{{8, 24}, {0, 8}, {48, 1}, {32, 16}}
	var out Header
	for _, p := range parts {
		out = rt.mustAdd(t, frag(t, 3, p[0], p[0]+p[1] < len(data), data[p[0]:p[0]+p[1]]), nil)
	}
	if out == nil || !bytes.Equal(out.Payload(), data) {
		t.Fatalf("reassembled %v", out)
	}
}

// TestReasmLargest checks the boundary: a datagram of exactly 65535
// bytes is reassembled; with options it would exceed that and is not.
func TestReasmLargest(t *testing.T) {
	rt := newReasmTest(t, ReasmConfig{MaxFragments: 1024})
	data := pattern(MaxDatagram-HeaderLen, 0)
	rt.mustAdd(t, frag(t, 1, 0, true, data[:65512]), nil)
	out := rt.mustAdd(t, frag(t, 1, 65512, false, data[65512:]), nil)
	if len(out) != MaxDatagram || out.TotalLen() != MaxDatagram {
		t.Fatalf("reassembled %d bytes", len(out))
	}
	first := build(t, Fields{ID: 2, Flags: FlagMF, TTL: 64, Protocol: ProtoUDP, Src: testSrc, Dst: testDst},
		[]byte{0x94, 4, 0, 0}, data[:65504])
	rt.mustAdd(t, first, nil)
	rt.mustAdd(t, frag(t, 2, 65504, false, data[65504:]), ErrTooBig)
	if s := rt.Stats(); s.Pending != 0 || s.Bytes != 0 {
		t.Errorf("after ErrTooBig: %+v", s)
	}
}

// TestReasmKey checks that fragments differing in source, destination,
// protocol or ID belong to different datagrams (RFC 791 3.2).
func TestReasmKey(t *testing.T) {
	rt := newReasmTest(t, ReasmConfig{})
	base := Fields{ID: 1, Flags: FlagMF, TTL: 64, Protocol: ProtoUDP, Src: testSrc, Dst: testDst}
	variants := []func(f *Fields){
		func(f *Fields) {},
		func(f *Fields) { f.ID = 2 },
		func(f *Fields) { f.Protocol = ProtoTCP },
		func(f *Fields) { f.Src = addr("192.0.2.99") },
		func(f *Fields) { f.Dst = addr("198.51.100.99") },
	}
	for i, v := range variants {
		f := base
		v(&f)
		rt.mustAdd(t, build(t, f, nil, pattern(8, byte(i))), nil)
	}
	if s := rt.Stats(); s.Pending != len(variants) || s.Overlaps != 0 {
		t.Fatalf("stats %+v", s)
	}
	for i, v := range variants {
		f := base
		v(&f)
		f.Flags, f.FragOff = 0, 8
		out := rt.mustAdd(t, build(t, f, nil, []byte{byte(i)}), nil)
		if out == nil || !bytes.Equal(out.Payload(), append(pattern(8, byte(i)), byte(i))) {
			t.Fatalf("variant %d: reassembled %v", i, out)
		}
	}
}

// TestReasmHeader checks the reassembled header: the first fragment's,
// DF kept, MF and offset cleared, and CE from any fragment (RFC 3168 5.3).
func TestReasmHeader(t *testing.T) {
	rt := newReasmTest(t, ReasmConfig{})
	a := build(t, Fields{TOS: 0xb8 | 0x02, ID: 6, Flags: FlagMF, TTL: 17, Protocol: ProtoTCP, Src: testSrc, Dst: testDst},
		[]byte{0x94, 4, 0, 0}, pattern(8, 0))
	b := build(t, Fields{TOS: 0xb8 | 0x03, ID: 6, FragOff: 8, TTL: 3, Protocol: ProtoTCP, Src: testSrc, Dst: testDst},
		nil, pattern(3, 8))
	rt.mustAdd(t, b, nil)
	out := rt.mustAdd(t, a, nil)
	if _, err := Parse(out); err != nil {
		t.Fatal(err)
	}
	if out.TOS() != 0xbb || out.TTL() != 17 || out.IsFragment() || out.HeaderLen() != 24 || out.TotalLen() != 35 ||
		!bytes.Equal(out.Options(), []byte{0x94, 4, 0, 0}) {
		t.Errorf("reassembled header %v", out)
	}
	// Not-ECT stays Not-ECT.
	a[1], b[1] = 0, 3
	a.SetChecksum()
	b.SetChecksum()
	rt.mustAdd(t, a, nil)
	if out := rt.mustAdd(t, b, nil); out.TOS() != 0 {
		t.Errorf("Not-ECT datagram got TOS %#x", out.TOS())
	}
}

func TestReasmClose(t *testing.T) {
	rt := newReasmTest(t, ReasmConfig{})
	for id := range uint16(10) {
		rt.mustAdd(t, frag(t, id, 0, true, pattern(8, 0)), nil)
	}
	if rt.ts.Len() != 10 {
		t.Fatalf("%d timers armed, want 10", rt.ts.Len())
	}
	rt.Close()
	if s := rt.Stats(); s.Pending != 0 || s.Bytes != 0 || rt.ts.Len() != 0 {
		t.Errorf("after Close: %+v, %d timers", s, rt.ts.Len())
	}
	rt.mustAdd(t, frag(t, 1, 8, false, pattern(8, 0)), ErrReasmClosed)
	rt.clock.Advance(time.Hour)
	if len(rt.timedOut()) != 0 {
		t.Error("timeout after Close")
	}
	rt.Close() // idempotent
}

// TestReasmOwnService checks NewReassembler with no service.
func TestReasmOwnService(t *testing.T) {
	r := NewReassembler(ReasmConfig{}, nil, nil)
	defer r.Close()
	if _, err := r.Add(frag(t, 1, 0, true, pattern(8, 0))); err != nil {
		t.Fatal(err)
	}
	out, err := r.Add(frag(t, 1, 8, false, pattern(8, 0)))
	if err != nil || out == nil {
		t.Fatalf("Add = %v, %v", out, err)
	}
}

// TestReasmConcurrent adds fragments from several goroutines while the
// clock runs (run with -race).
func TestReasmConcurrent(t *testing.T) {
	rt := newReasmTest(t, ReasmConfig{MaxBytes: 1 << 20})
	const workers, each = 4, 100
	r := rand.New(rand.NewPCG(13, 14))
	want := make([][]Header, workers)
	frags := make([][][]Header, workers)
	for w := range workers {
		for i := range each {
			d := build(t, Fields{ID: uint16(w*each + i), TTL: 64, Protocol: ProtoUDP, Src: testSrc, Dst: testDst},
				nil, pattern(600+r.IntN(3000), byte(i)))
			f := fragments(t, d, 576)
			r.Shuffle(len(f), func(i, j int) { f[i], f[j] = f[j], f[i] })
			want[w] = append(want[w], d)
			frags[w] = append(frags[w], f)
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i, fs := range frags[w] {
				var out Header
				for _, f := range fs {
					o, err := rt.Add(f)
					if err != nil {
						t.Error(err)
						return
					}
					if o != nil {
						out = o
					}
				}
				if !bytes.Equal(out, want[w][i]) {
					t.Errorf("worker %d, datagram %d: wrong reassembly", w, i)
				}
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			rt.clock.Advance(time.Millisecond)
			_ = rt.Stats()
		}
	})
	wg.Wait()
	if s := rt.Stats(); s.ReasmOKs != workers*each || s.Pending != 0 || s.Bytes != 0 {
		t.Errorf("stats %+v", s)
	}
}

func BenchmarkReasm(b *testing.B) {
	rt := newReasmTest(b, ReasmConfig{})
	d := build(b, Fields{TTL: 64, Protocol: ProtoUDP, Src: testSrc, Dst: testDst}, nil, pattern(8000, 0))
	frags := fragments(b, d, 1500)
	b.SetBytes(int64(len(d)))
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frags {
			if _, err := rt.Add(f); err != nil {
				b.Fatal(err)
			}
		}
	}
}
