package tcp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// wrapISNs are the initial receive sequence numbers every table runs
// from: plain ones and ones whose stream crosses 2^32 or 2^31.
var wrapISNs = []Seq{0, 1000, 0xffffff00, 0xffffffff, 0xfffffff0, 0x7fffff80}

// streamByte is the octet at offset i of the test stream: it changes from
// one offset to the next and does not repeat every 256, so that data put
// at the wrong place shows.
func streamByte(i int) byte { return byte(i*131 + i>>8 + i>>16 + 7) }

// stream returns the test stream's octets [off, off+n).
func stream(off, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = streamByte(off + i)
	}
	return b
}

// blk is a block written as offsets from the ISN, for tables.
type blk struct{ lo, hi int }

func toBlocks(isn Seq, bs []blk) []SACKBlock {
	out := make([]SACKBlock, 0, len(bs))
	for _, b := range bs {
		out = append(out, SACKBlock{isn.Add(b.lo), isn.Add(b.hi)})
	}
	return out
}

func TestRecvQueueWrite(t *testing.T) {
	type write struct {
		off, n   int
		accepted int
	}
	tests := []struct {
		name     string
		capacity int
		writes   []write
		rcvNxt   int   // offset of RcvNxt from the ISN
		readable int   // Readable, also the length of the data read back
		blocks   []blk // SACKBlocks, most recent first
		dsack    *blk  // TakeDSACK after the last write
	}{
		{"in order", 1000, []write{{0, 100, 100}, {100, 200, 200}}, 300, 300, nil, nil},
		{"gap then fill", 1000, []write{{100, 100, 0}, {0, 100, 200}}, 200, 200, nil, nil},
		{"partial duplicate", 1000, []write{{0, 100, 100}, {50, 100, 50}}, 150, 150, nil, &blk{50, 100}},
		{"whole duplicate", 1000, []write{{0, 100, 100}, {0, 100, 0}}, 100, 100, nil, &blk{0, 100}},
		{"duplicate of held data", 1000, []write{{100, 100, 0}, {120, 30, 0}}, 0, 0, []blk{{100, 200}}, &blk{120, 150}},
		{"fill overlapping held data", 1000, []write{{100, 100, 0}, {0, 150, 200}}, 200, 200, nil, &blk{100, 150}},
		{"duplicate below wins", 1000, []write{{0, 50, 50}, {100, 100, 0}, {20, 130, 150}}, 200, 200, nil, &blk{20, 50}},
		{"beyond window trimmed", 100, []write{{50, 100, 0}, {0, 50, 100}}, 100, 100, nil, nil},
		{"wholly beyond window", 100, []write{{100, 10, 0}, {200, 10, 0}}, 0, 0, nil, nil},
		{"zero window", 100, []write{{0, 100, 100}, {100, 1, 0}}, 100, 100, nil, nil},
		{"zero window probe of old data", 100, []write{{0, 100, 100}, {99, 2, 0}}, 100, 100, nil, &blk{99, 100}},
		{"empty write", 100, []write{{0, 0, 0}, {10, 0, 0}}, 0, 0, nil, nil},
		{"merge overlapping", 1000, []write{{100, 100, 0}, {300, 100, 0}, {150, 200, 0}}, 0, 0, []blk{{100, 400}}, &blk{150, 200}},
		{"merge touching", 1000, []write{{100, 100, 0}, {200, 100, 0}}, 0, 0, []blk{{100, 300}}, nil},
		{"merge touching below", 1000, []write{{200, 100, 0}, {100, 100, 0}}, 0, 0, []blk{{100, 300}}, nil},
		{"fill between two", 1000, []write{{100, 100, 0}, {300, 100, 0}, {200, 100, 0}}, 0, 0, []blk{{100, 400}}, nil},
		{"cover several", 1000, []write{{100, 10, 0}, {200, 10, 0}, {300, 10, 0}, {50, 300, 0}}, 0, 0, []blk{{50, 350}}, &blk{100, 110}},
		{"fill reaches several", 1000, []write{{100, 10, 0}, {110, 10, 0}, {200, 10, 0}, {0, 100, 120}}, 120, 120, []blk{{200, 210}}, nil},
		{"most recent first", 1000, []write{{100, 100, 0}, {300, 100, 0}, {500, 100, 0}}, 0, 0, []blk{{500, 600}, {300, 400}, {100, 200}}, nil},
		{"duplicate makes recent", 1000, []write{{100, 100, 0}, {300, 100, 0}, {500, 100, 0}, {300, 50, 0}},
			0, 0, []blk{{300, 400}, {500, 600}, {100, 200}}, &blk{300, 350}},
		{"extension makes recent", 1000, []write{{100, 100, 0}, {300, 100, 0}, {500, 100, 0}, {200, 50, 0}},
			0, 0, []blk{{100, 250}, {500, 600}, {300, 400}}, nil},
		{"in-order write keeps order", 1000, []write{{100, 10, 0}, {300, 10, 0}, {0, 50, 50}},
			50, 50, []blk{{300, 310}, {100, 110}}, nil},
		// -(1<<31) is 2^31 ahead too, modulo 2^32, and fits a 32-bit int.
		{"far ahead is old", 1000, []write{{-(1 << 31), 10, 0}}, 0, 0, nil, &blk{-(1 << 31), -(1 << 31) + 10}},
		{"ends at window edge", 100, []write{{90, 10, 0}, {0, 90, 100}}, 100, 100, nil, nil},
		{"capacity zero", 0, []write{{0, 10, 0}, {5, 10, 0}}, 0, 0, nil, nil},
	}
	for _, tt := range tests {
		for _, isn := range wrapISNs {
			t.Run(fmt.Sprintf("%s/%#x", tt.name, uint32(isn)), func(t *testing.T) {
				q := NewRecvQueue(tt.capacity, isn)
				for i, w := range tt.writes {
					if got := q.Write(isn.Add(w.off), stream(w.off, w.n)); got != w.accepted {
						t.Fatalf("write %d [%d, %d): accepted %d, want %d", i, w.off, w.off+w.n, got, w.accepted)
					}
				}
				if got, want := q.RcvNxt(), isn.Add(tt.rcvNxt); got != want {
					t.Errorf("RcvNxt = %#x, want %#x", got, want)
				}
				if got := q.Readable(); got != tt.readable {
					t.Errorf("Readable = %d, want %d", got, tt.readable)
				}
				if got, want := q.Window(), tt.capacity-tt.readable; got != want {
					t.Errorf("Window = %d, want %d", got, want)
				}
				if got, want := q.HasOutOfOrder(), len(tt.blocks) > 0; got != want {
					t.Errorf("HasOutOfOrder = %v, want %v", got, want)
				}
				dst := make([]SACKBlock, RecvQueueMaxRanges)
				got := dst[:q.SACKBlocks(dst)]
				if want := toBlocks(isn, tt.blocks); !slices.Equal(got, want) {
					t.Errorf("SACKBlocks = %v, want %v", got, want)
				}
				d, ok := q.TakeDSACK()
				switch {
				case tt.dsack == nil && ok:
					t.Errorf("TakeDSACK = %v, want none", d)
				case tt.dsack != nil && (!ok || d != toBlocks(isn, []blk{*tt.dsack})[0]):
					t.Errorf("TakeDSACK = %v, %v; want %v", d, ok, toBlocks(isn, []blk{*tt.dsack})[0])
				}
				if _, ok := q.TakeDSACK(); ok {
					t.Error("second TakeDSACK reported the duplicate again")
				}
				p := make([]byte, tt.capacity+10)
				n := q.Read(p)
				if want := stream(0, tt.readable); !bytes.Equal(p[:n], want) {
					t.Errorf("Read = % x, want % x", p[:n], want)
				}
				if q.Readable() != 0 || q.Window() != tt.capacity {
					t.Errorf("after reading all: Readable %d, Window %d", q.Readable(), q.Window())
				}
			})
		}
	}
}

func TestRecvQueueSACKBlocksLimit(t *testing.T) {
	for _, isn := range wrapISNs {
		q := NewRecvQueue(10000, isn)
		for i := range 6 {
			q.Write(isn.Add(100*(i+1)), stream(100*(i+1), 10))
		}
		for k := range 8 {
			dst := make([]SACKBlock, k)
			n := q.SACKBlocks(dst)
			if want := min(k, 6); n != want {
				t.Fatalf("%#x: SACKBlocks into %d: %d blocks, want %d", isn, k, n, want)
			}
			for i := range n {
				if want := (SACKBlock{isn.Add(100 * (6 - i)), isn.Add(100*(6-i) + 10)}); dst[i] != want {
					t.Errorf("%#x: block %d of %d = %v, want %v", isn, i, k, dst[i], want)
				}
			}
		}
	}
}

// TestRecvQueueFragmentation fills the queue with more out-of-order ranges
// than it keeps: the highest are forgotten, the lowest stay.
func TestRecvQueueFragmentation(t *testing.T) {
	const total = RecvQueueMaxRanges + 10
	for _, isn := range wrapISNs {
		for _, reverse := range []bool{false, true} {
			q := NewRecvQueue(100*total+100, isn)
			for k := range total {
				i := k
				if reverse {
					i = total - 1 - k
				}
				q.Write(isn.Add(100*(i+1)), stream(100*(i+1), 10))
			}
			dst := make([]SACKBlock, total)
			got := dst[:q.SACKBlocks(dst)]
			if len(got) != RecvQueueMaxRanges {
				t.Fatalf("%#x reverse=%v: %d ranges, want %d", isn, reverse, len(got), RecvQueueMaxRanges)
			}
			slices.SortFunc(got, func(a, b SACKBlock) int { return int(a.Start.Diff(b.Start)) })
			for i, b := range got {
				if want := (SACKBlock{isn.Add(100 * (i + 1)), isn.Add(100*(i+1) + 10)}); b != want {
					t.Fatalf("%#x reverse=%v: range %d = %v, want %v", isn, reverse, i, b, want)
				}
			}
			// Filling every gap makes everything up to the last range kept
			// readable; the forgotten data must come again.
			for i := range RecvQueueMaxRanges {
				q.Write(isn.Add(100*i), stream(100*i, 100))
			}
			want := 100*RecvQueueMaxRanges + 10
			if q.Readable() != want || q.HasOutOfOrder() {
				t.Fatalf("%#x reverse=%v: Readable %d (want %d), HasOutOfOrder %v", isn, reverse, q.Readable(), want, q.HasOutOfOrder())
			}
			p := make([]byte, want)
			if q.Read(p) != want || !bytes.Equal(p, stream(0, want)) {
				t.Fatalf("%#x reverse=%v: data read back differs", isn, reverse)
			}
		}
	}
}

// TestRecvQueueRingWrap streams through a small ring many times over,
// never emptying it, so that readable and held data cross the ring's end
// in every position.
func TestRecvQueueRingWrap(t *testing.T) {
	for _, isn := range wrapISNs {
		q := NewRecvQueue(10, isn)
		rd, wr := 0, 0 // offsets read up to and written up to
		sawWrap := false
		for round := range 200 {
			if n := min(1+round%7, q.Window()); n > 2 && round%3 == 0 {
				// Out of order first, then the gap before it.
				q.Write(isn.Add(wr+2), stream(wr+2, n-2))
				if !q.HasOutOfOrder() {
					t.Fatalf("%#x round %d: out-of-order data not held", isn, round)
				}
				if got := q.Write(isn.Add(wr), stream(wr, 2)); got != n {
					t.Fatalf("%#x round %d: fill accepted %d, want %d", isn, round, got, n)
				}
				wr += n
			} else if got := q.Write(isn.Add(wr), stream(wr, n)); got != n {
				t.Fatalf("%#x round %d: accepted %d, want %d", isn, round, got, n)
			} else {
				wr += n
			}
			a, b := q.Peek()
			if len(b) > 0 {
				sawWrap = true
				if len(a) == 0 {
					t.Fatalf("%#x round %d: Peek first slice empty, second not", isn, round)
				}
			}
			if got := append(slices.Clone(a), b...); !bytes.Equal(got, stream(rd, wr-rd)) {
				t.Fatalf("%#x round %d: Peek = % x, want % x", isn, round, got, stream(rd, wr-rd))
			}
			// Consume some, never all: by Discard on odd rounds, Read on even.
			k := min(round%5, wr-rd-1)
			if k <= 0 {
				continue
			}
			if round%2 == 1 {
				q.Discard(k)
			} else {
				p := make([]byte, k)
				if got := q.Read(p); got != k || !bytes.Equal(p, stream(rd, k)) {
					t.Fatalf("%#x round %d: Read %d = % x, want % x", isn, round, got, p[:got], stream(rd, k))
				}
			}
			rd += k
			if q.Readable() != wr-rd || q.Window() != 10-(wr-rd) || q.RcvNxt() != isn.Add(wr) {
				t.Fatalf("%#x round %d: Readable %d, Window %d, RcvNxt %#x; want %d, %d, %#x",
					isn, round, q.Readable(), q.Window(), q.RcvNxt(), wr-rd, 10-(wr-rd), isn.Add(wr))
			}
		}
		if !sawWrap {
			t.Fatalf("%#x: readable data never wrapped around the ring", isn)
		}
	}
}

// TestRecvQueuePeekWraps checks that Peek splits readable data at the
// ring's end, and Discard across it.
func TestRecvQueuePeekWraps(t *testing.T) {
	q := NewRecvQueue(8, 0)
	q.Write(0, stream(0, 6))
	q.Discard(5)
	q.Write(6, stream(6, 6)) // ring holds offsets 5..11 at indexes 5..7, 0..3
	a, b := q.Peek()
	if !bytes.Equal(a, stream(5, 3)) || !bytes.Equal(b, stream(8, 4)) {
		t.Fatalf("Peek = % x + % x, want % x + % x", a, b, stream(5, 3), stream(8, 4))
	}
	q.Discard(4)
	a, b = q.Peek()
	if !bytes.Equal(a, stream(9, 3)) || b != nil {
		t.Fatalf("after Discard(4): Peek = % x + % x, want % x + nil", a, b, stream(9, 3))
	}
	q.Discard(-1)
	q.Discard(100)
	if q.Readable() != 0 || q.Window() != 8 {
		t.Fatalf("Discard clamps: Readable %d, Window %d", q.Readable(), q.Window())
	}
	if a, b := q.Peek(); len(a) != 0 || len(b) != 0 {
		t.Fatalf("empty Peek = % x + % x", a, b)
	}
	// Emptied, the ring starts over at its beginning: a full window comes
	// back from Peek as one slice.
	q.Write(12, stream(12, 8))
	if a, b := q.Peek(); !bytes.Equal(a, stream(12, 8)) || b != nil {
		t.Fatalf("Peek of a full ring after emptying = % x + % x, want one slice", a, b)
	}
}

func TestRecvQueueGrow(t *testing.T) {
	for _, isn := range wrapISNs {
		q := NewRecvQueue(10, isn)
		q.Write(isn, stream(0, 8))
		q.Discard(6)                        // head at 6
		q.Write(isn.Add(8), stream(8, 4))   // readable 6..11, wraps
		q.Write(isn.Add(14), stream(14, 2)) // held 14..15, window ends at 16
		if got := q.Write(isn.Add(16), stream(16, 4)); got != 0 || q.Window() != 4 {
			t.Fatalf("%#x: before Grow: accepted %d, Window %d", isn, got, q.Window())
		}
		q.Grow(5) // smaller: ignored
		if q.Capacity() != 10 {
			t.Fatalf("%#x: Grow(5) changed capacity to %d", isn, q.Capacity())
		}
		q.Grow(20)
		if q.Capacity() != 20 || q.Window() != 14 || q.Readable() != 6 {
			t.Fatalf("%#x: after Grow(20): Capacity %d, Window %d, Readable %d", isn, q.Capacity(), q.Window(), q.Readable())
		}
		q.Write(isn.Add(16), stream(16, 10))
		if got := q.Write(isn.Add(12), stream(12, 2)); got != 14 {
			t.Fatalf("%#x: after Grow: fill accepted %d, want 14", isn, got)
		}
		p := make([]byte, 30)
		if n := q.Read(p); n != 20 || !bytes.Equal(p[:n], stream(6, 20)) {
			t.Fatalf("%#x: after Grow read % x, want % x", isn, p[:n], stream(6, 20))
		}
	}
}

func TestRecvQueueFIN(t *testing.T) {
	type op struct {
		fin      bool // SetFIN(off) rather than Write(off, n)
		off, n   int
		want     int  // Write: accepted
		recorded bool // SetFIN: result
	}
	tests := []struct {
		name    string
		ops     []op
		rcvNxt  int // from the ISN
		reached bool
		blocks  []blk
	}{
		{"in order", []op{{off: 0, n: 10, want: 10}, {fin: true, off: 10, recorded: true}}, 11, true, nil},
		{"FIN alone", []op{{fin: true, off: 0, recorded: true}}, 1, true, nil},
		{"out of order", []op{{off: 10, n: 10}, {fin: true, off: 20, recorded: true}, {off: 0, n: 10, want: 20}}, 21, true, nil},
		{"before data", []op{{fin: true, off: 20, recorded: true}, {off: 0, n: 20, want: 20}}, 21, true, nil},
		{"data beyond FIN dropped", []op{{fin: true, off: 20, recorded: true}, {off: 15, n: 10}, {off: 0, n: 15, want: 20}}, 21, true, nil},
		{"held data beyond FIN trimmed", []op{{off: 10, n: 10}, {off: 30, n: 5}, {fin: true, off: 15, recorded: true}},
			0, false, []blk{{10, 16}}}, // the FIN counts in the SACK block (Linux's end_seq)
		{"FIN alone out of order SACKed", []op{{fin: true, off: 20, recorded: true}}, 0, false, []blk{{20, 21}}},
		{"FIN apart from held data, newest first", []op{{off: 10, n: 5}, {fin: true, off: 20, recorded: true}},
			0, false, []blk{{20, 21}, {10, 15}}},
		{"data joins a held FIN", []op{{fin: true, off: 20, recorded: true}, {off: 10, n: 10}}, 0, false, []blk{{10, 21}}},
		{"newer data before a held FIN", []op{{off: 15, n: 5}, {fin: true, off: 20, recorded: true}, {off: 5, n: 5}},
			0, false, []blk{{5, 10}, {15, 21}}},
		{"second FIN ignored", []op{{fin: true, off: 20, recorded: true}, {fin: true, off: 30}, {off: 0, n: 20, want: 20}}, 21, true, nil},
		{"FIN before RCV.NXT ignored", []op{{off: 0, n: 10, want: 10}, {fin: true, off: 5}}, 10, false, nil},
		{"FIN beyond window ignored", []op{{fin: true, off: 101}}, 0, false, nil},
		{"FIN just past full window", []op{{fin: true, off: 100, recorded: true}, {off: 0, n: 100, want: 100}}, 101, true, nil},
		{"no data after FIN", []op{{off: 0, n: 10, want: 10}, {fin: true, off: 10, recorded: true}, {off: 11, n: 5}, {off: 10, n: 5}},
			11, true, nil},
	}
	for _, tt := range tests {
		for _, isn := range wrapISNs {
			t.Run(fmt.Sprintf("%s/%#x", tt.name, uint32(isn)), func(t *testing.T) {
				q := NewRecvQueue(100, isn)
				for i, o := range tt.ops {
					if o.fin {
						if got := q.SetFIN(isn.Add(o.off)); got != o.recorded {
							t.Fatalf("op %d: SetFIN(%d) = %v, want %v", i, o.off, got, o.recorded)
						}
					} else if got := q.Write(isn.Add(o.off), stream(o.off, o.n)); got != o.want {
						t.Fatalf("op %d: Write [%d, %d) accepted %d, want %d", i, o.off, o.off+o.n, got, o.want)
					}
				}
				if got, want := q.RcvNxt(), isn.Add(tt.rcvNxt); got != want {
					t.Errorf("RcvNxt = %#x, want %#x", got, want)
				}
				if q.FINReached() != tt.reached {
					t.Errorf("FINReached = %v, want %v", q.FINReached(), tt.reached)
				}
				dst := make([]SACKBlock, 8)
				if got, want := dst[:q.SACKBlocks(dst)], toBlocks(isn, tt.blocks); !slices.Equal(got, want) {
					t.Errorf("SACKBlocks = %v, want %v", got, want)
				}
				if n := tt.rcvNxt; tt.reached {
					n--
					if q.Readable() != n {
						t.Errorf("Readable = %d, want %d", q.Readable(), n)
					}
				}
			})
		}
	}
}

func TestNewRecvQueuePanics(t *testing.T) {
	for _, c := range []int{-1, MaxRecvCapacity + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewRecvQueue(%d) did not panic", c)
				}
			}()
			NewRecvQueue(c, 0)
		}()
	}
	q := NewRecvQueue(1, 0)
	defer func() {
		if recover() == nil {
			t.Errorf("Grow(%d) did not panic", MaxRecvCapacity+1)
		}
	}()
	q.Grow(MaxRecvCapacity + 1)
}

// TestRecvQueueModel runs random writes (out of order, duplicated,
// overlapping, beyond the window), reads, discards and grows against the
// plain model in recvModel, over many seeds.
func TestRecvQueueModel(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 50
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
		capacity := 1 + r.IntN(400)
		isn := wrapISNs[seed%len(wrapISNs)]
		length := 200 + r.IntN(3000)
		maxSeg := 1 + r.IntN(60)
		if seed%4 == 0 {
			maxSeg = 1 + r.IntN(4) // tiny segments: many ranges
		}
		var ops []recvOp
		for range 600 {
			var o recvOp
			switch k := r.IntN(20); {
			case k < 14:
				o = recvOp{kind: opWrite, off: r.IntN(length), n: 1 + r.IntN(maxSeg)}
			case k < 16:
				o = recvOp{kind: opRead, n: r.IntN(capacity + 1)}
			case k < 18:
				o = recvOp{kind: opDiscard, n: r.IntN(capacity + 1)}
			case k < 19:
				o = recvOp{kind: opPeek}
			default:
				o = recvOp{kind: opGrow, n: capacity + r.IntN(50)}
			}
			ops = append(ops, o)
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			runRecvOps(t, capacity, isn, length, ops)
		})
	}
}

func TestRecvQueueAllocs(t *testing.T) {
	q := NewRecvQueue(1<<16, 0xfffff000)
	seg := stream(0, 1448)
	p := make([]byte, 1448)
	dst := make([]SACKBlock, MaxSACKBlocks)
	seq := Seq(0xfffff000)
	allocs := testing.AllocsPerRun(100, func() {
		q.Write(seq.Add(2*1448), seg) // out of order
		q.Write(seq.Add(1448), seg)   // fills part of the gap
		q.SACKBlocks(dst)
		q.TakeDSACK()
		q.Write(seq, seg) // in order: three segments readable
		q.Read(p)
		a, b := q.Peek()
		q.Discard(len(a) + len(b))
		seq = seq.Add(3 * 1448)
	})
	if allocs != 0 {
		t.Fatalf("steady-state Write/Read/SACKBlocks: %v allocations per run, want 0", allocs)
	}
}

func BenchmarkRecvQueueInOrder(b *testing.B) {
	q := NewRecvQueue(1<<20, 0)
	seg := stream(0, 1448)
	p := make([]byte, 1448)
	seq := Seq(0)
	b.SetBytes(1448)
	for b.Loop() {
		q.Write(seq, seg)
		q.Read(p)
		seq = seq.Add(1448)
	}
}

// BenchmarkRecvQueueOutOfOrder fills a window of 64 segments with every
// second segment first, then the gaps, then reads it all.
func BenchmarkRecvQueueOutOfOrder(b *testing.B) {
	const segs = 64
	q := NewRecvQueue(segs*1448, 0)
	seg := stream(0, 1448)
	p := make([]byte, segs*1448)
	dst := make([]SACKBlock, MaxSACKBlocks)
	seq := Seq(0)
	b.SetBytes(segs * 1448)
	for b.Loop() {
		for i := 1; i < segs; i += 2 {
			q.Write(seq.Add(i*1448), seg)
			q.SACKBlocks(dst)
		}
		for i := 0; i < segs; i += 2 {
			q.Write(seq.Add(i*1448), seg)
			q.SACKBlocks(dst)
		}
		q.Read(p)
		seq = seq.Add(segs * 1448)
	}
}

// TestRecvQueueDuplicateFIN: the FIN recorded, seen again, is a duplicate
// reported by TakeDSACK with its sequence number counted (RFC 2883 4, as
// Linux's end_seq), joined to the duplicate data before it.
func TestRecvQueueDuplicateFIN(t *testing.T) {
	tests := []struct {
		name  string
		first int    // data before the FIN, the first time
		again [2]int // the retransmission's data [off, off+n), then its FIN
		want  blk
	}{
		{"FIN alone, held", 0, [2]int{20, 0}, blk{20, 21}},
		{"data and FIN, held", 0, [2]int{10, 10}, blk{10, 21}},
		{"FIN alone, reached", 20, [2]int{20, 0}, blk{20, 21}},
		{"data and FIN, reached", 20, [2]int{15, 5}, blk{15, 21}},
	}
	for _, tt := range tests {
		for _, isn := range wrapISNs {
			t.Run(fmt.Sprintf("%s/%#x", tt.name, uint32(isn)), func(t *testing.T) {
				q := NewRecvQueue(100, isn)
				q.Write(isn, stream(0, tt.first))
				q.Write(isn.Add(10), stream(10, 10))
				q.SetFIN(isn.Add(20))
				q.TakeDSACK()
				off, n := tt.again[0], tt.again[1]
				q.Write(isn.Add(off), stream(off, n))
				if q.SetFIN(isn.Add(off + n)) {
					t.Fatal("SetFIN of the same FIN again recorded it")
				}
				got, ok := q.TakeDSACK()
				if want := toBlocks(isn, []blk{tt.want})[0]; !ok || got != want {
					t.Errorf("TakeDSACK = %v %v, want %v", got, ok, want)
				}
			})
		}
	}
}

// TestRecvQueuePromise: data up to an edge the window promised is taken
// even past the capacity; data beyond it is not.
func TestRecvQueuePromise(t *testing.T) {
	q := NewRecvQueue(1000, 100)
	if n := q.Write(100, make([]byte, 1000)); n != 1000 {
		t.Fatalf("filling the buffer: took %d, want 1000", n)
	}
	if n := q.Write(1100, make([]byte, 50)); n != 0 {
		t.Fatalf("with no promise past the buffer: took %d, want 0", n)
	}
	q.Promise(1127) // a window rounded up by a scale of 7
	if n := q.Write(1100, make([]byte, 50)); n != 27 {
		t.Fatalf("with the edge promised at 1127: took %d, want 27", n)
	}
	if q.Readable() != 1027 || q.Window() != 0 {
		t.Fatalf("Readable %d, Window %d: want 1027 and 0", q.Readable(), q.Window())
	}
	q.Promise(1000) // an older edge changes nothing
	p := make([]byte, 2000)
	if n := q.Read(p); n != 1027 {
		t.Fatalf("Read %d, want 1027", n)
	}
}
