package tcp

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// order is the RFC 1982 relation of a to b, worked out from the distance
// d = b - a modulo 2^32 in 64-bit arithmetic, independently of Seq's
// methods: 0 equal, -1 a before b, +1 a after b, 2 undefined (d = 2^31).
func order(a, b uint32) int {
	d := (int64(b) - int64(a)) & (1<<32 - 1)
	switch {
	case d == 0:
		return 0
	case d < 1<<31:
		return -1
	case d == 1<<31:
		return 2
	default:
		return 1
	}
}

// checkOrder checks every comparison of a and b against order.
func checkOrder(t *testing.T, a, b uint32) {
	t.Helper()
	want := order(a, b)
	sa, sb := Seq(a), Seq(b)
	got := [4]bool{sa.LessThan(sb), sa.LessEq(sb), sa.GreaterThan(sb), sa.GreaterEq(sb)}
	exp := [4]bool{want == -1, want <= 0, want == 1, want == 0 || want == 1}
	if got != exp {
		t.Fatalf("%#x vs %#x (order %d): <, <=, >, >= = %v, want %v", a, b, want, got, exp)
	}
	d := (int64(a) - int64(b)) & (1<<32 - 1)
	if d >= 1<<31 {
		d -= 1 << 32
	}
	if got := sa.Diff(sb); int64(got) != d {
		t.Fatalf("%#x.Diff(%#x) = %d, want %d", a, b, got, d)
	}
	max, min := sa, sb
	if want == -1 {
		max, min = sb, sa
	}
	if sa.Max(sb) != max || sa.Min(sb) != min {
		t.Fatalf("%#x, %#x: Max %#x, Min %#x; want %#x, %#x", a, b, sa.Max(sb), sa.Min(sb), max, min)
	}
}

func TestSeqTable(t *testing.T) {
	tests := []struct {
		a, b uint32
		want int
	}{
		{0, 0, 0},
		{0, 1, -1},
		{1, 0, 1},
		{0xffffffff, 0, -1}, // the wrap: 0 follows 0xffffffff
		{0, 0xffffffff, 1},
		{0xfffffff0, 0x10, -1},
		{0x10, 0xfffffff0, 1},
		{0, 0x7fffffff, -1}, // 2^31 - 1 ahead: still after
		{0, 0x80000000, 2},  // 2^31: undefined, neither is less
		{0, 0x80000001, 1},  // 2^31 + 1 ahead is 2^31 - 1 behind
		{0x80000000, 0, 2},  // undefined both ways
		{0x7fffffff, 0x80000000, -1},
		{0xffffffff, 0x7fffffff, 2},
		{0xffffffff, 0x7ffffffe, -1},
		{0xffffffff, 0x80000000, 1},
		{1000, 999, 1},
		{0x1f3e5d7c, 0x1f3e5d7d, -1},
	}
	for _, tt := range tests {
		if got := order(tt.a, tt.b); got != tt.want {
			t.Fatalf("order(%#x, %#x) = %d, want %d: the oracle is wrong", tt.a, tt.b, got, tt.want)
		}
		checkOrder(t, tt.a, tt.b)
	}
}

// TestSeqAroundWrap compares every pair of numbers within 256 of the wrap
// from 0xffffffff to 0, and of the point 2^31 away from it.
func TestSeqAroundWrap(t *testing.T) {
	var near []uint32
	for i := range uint32(256) {
		near = append(near, -i-1, i, 1<<31-i-1, 1<<31+i)
	}
	for _, a := range near {
		for _, b := range near {
			checkOrder(t, a, b)
		}
	}
}

func TestSeqAdd(t *testing.T) {
	tests := []struct {
		s    Seq
		n    int
		want Seq
	}{
		{0, 1, 1},
		{0xffffffff, 1, 0},
		{0xffffffff, 2, 1},
		{0, -1, 0xffffffff},
		{5, -10, 0xfffffffb},
		{0xfffffc18, 1000, 0},
		{0x80000000, -0x80000000, 0}, // half a turn, in an int of any size
		{7, 0, 7},
	}
	if strconv.IntSize == 64 {
		// Whole turns of the circle, where an int can hold one. The shift
		// is of a variable, so that 32-bit builds compile.
		one := 1
		tests = append(tests, struct {
			s    Seq
			n    int
			want Seq
		}{0x12345678, one << 32, 0x12345678})
	}
	for _, tt := range tests {
		if got := tt.s.Add(tt.n); got != tt.want {
			t.Errorf("%#x.Add(%d) = %#x, want %#x", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestSeqInRange(t *testing.T) {
	tests := []struct {
		s, lo, hi Seq
		want      bool
	}{
		{5, 5, 10, true},
		{9, 5, 10, true},
		{10, 5, 10, false}, // hi is excluded
		{4, 5, 10, false},
		{5, 5, 5, false}, // empty
		{0, 0xfffffff0, 0x10, true},
		{0xffffffff, 0xfffffff0, 0x10, true},
		{0xfffffff0, 0xfffffff0, 0x10, true},
		{0x10, 0xfffffff0, 0x10, false},
		{0xffffffef, 0xfffffff0, 0x10, false},
		{0x80000000, 0, 0xffffffff, true}, // ranges longer than 2^31 work
		{0xffffffff, 0, 0xffffffff, false},
		{0x80000000, 10, 5, true}, // lo after hi: the long way round
		{7, 10, 5, false},
	}
	for _, tt := range tests {
		if got := tt.s.InRange(tt.lo, tt.hi); got != tt.want {
			t.Errorf("%#x.InRange(%#x, %#x) = %v, want %v", tt.s, tt.lo, tt.hi, got, tt.want)
		}
		if got := tt.s.InWindow(tt.lo, uint32(tt.hi-tt.lo)); got != tt.want {
			t.Errorf("%#x.InWindow(%#x, %d) = %v, want %v", tt.s, tt.lo, uint32(tt.hi-tt.lo), got, tt.want)
		}
	}
}

func TestSeqInWindow(t *testing.T) {
	tests := []struct {
		s, start Seq
		size     uint32
		want     bool
	}{
		{100, 100, 0, false}, // a zero window holds nothing
		{100, 100, 1, true},
		{101, 100, 1, false},
		{99, 100, 10, false},
		{0, 0xffffffff, 2, true},
		{1, 0xffffffff, 2, false},
		{0xfffffffe, 0xffffffff, 2, false},
		{0x3fffffff, 0, 1 << 30, true}, // the largest scaled window
		{0x40000000, 0, 1 << 30, false},
		{0xffffffff, 0, 0xffffffff, false},
		{0xfffffffe, 0, 0xffffffff, true},
	}
	for _, tt := range tests {
		if got := tt.s.InWindow(tt.start, tt.size); got != tt.want {
			t.Errorf("%#x.InWindow(%#x, %d) = %v, want %v", tt.s, tt.start, tt.size, got, tt.want)
		}
	}
}

// TestSeqAckAcceptable writes RFC 9293 3.4's test "SND.UNA < SEG.ACK =<
// SND.NXT" with InRange, across the wrap.
func TestSeqAckAcceptable(t *testing.T) {
	una, nxt := Seq(0xfffffff0), Seq(0x10)
	for _, tt := range []struct {
		ack  Seq
		want bool
	}{
		{0xfffffff0, false}, // = SND.UNA: a duplicate
		{0xfffffff1, true},
		{0xffffffff, true},
		{0, true},
		{0x10, true}, // = SND.NXT
		{0x11, false},
		{0x7fffffff, false},
	} {
		if got := tt.ack.InRange(una.Add(1), nxt.Add(1)); got != tt.want {
			t.Errorf("ack %#x with una %#x, nxt %#x: acceptable %v, want %v", tt.ack, una, nxt, got, tt.want)
		}
		if got := una.LessThan(tt.ack) && tt.ack.LessEq(nxt); got != tt.want {
			t.Errorf("ack %#x by comparisons: acceptable %v, want %v", tt.ack, got, tt.want)
		}
	}
}

// TestSeqProperties checks the algebra on random numbers, with a quarter
// of the pairs exactly 2^31 apart or within a few of the wrap.
func TestSeqProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		a, b, k := Seq(r.Uint32()), Seq(r.Uint32()), r.Uint32()
		switch i % 8 {
		case 0:
			b = a + 1<<31
		case 1:
			a, b = Seq(-r.Uint32N(8)), Seq(r.Uint32N(8))
		}
		// Antisymmetry: never both a < b and b < a.
		if a.LessThan(b) && b.LessThan(a) {
			t.Fatalf("%#x < %#x and %#x < %#x", a, b, b, a)
		}
		// GreaterThan is LessThan reversed.
		if a.GreaterThan(b) != b.LessThan(a) || a.GreaterEq(b) != b.LessEq(a) {
			t.Fatalf("%#x, %#x: > or >= disagrees with < or <= reversed", a, b)
		}
		// Trichotomy, except at a distance of exactly 2^31.
		n := 0
		for _, v := range []bool{a.LessThan(b), a == b, a.GreaterThan(b)} {
			if v {
				n++
			}
		}
		if want := 1; b-a == 1<<31 {
			want = 0
			if n != want {
				t.Fatalf("%#x, %#x are 2^31 apart but compare", a, b)
			}
		} else if n != want {
			t.Fatalf("%#x, %#x: %d of <, ==, > hold", a, b, n)
		}
		// Translation invariance: adding k to both keeps every relation.
		ak, bk := a.Add(int(k)), b.Add(int(k))
		if a.LessThan(b) != ak.LessThan(bk) || a.LessEq(b) != ak.LessEq(bk) ||
			a.Diff(b) != ak.Diff(bk) || a.InRange(b, b.Add(1000)) != ak.InRange(bk, bk.Add(1000)) {
			t.Fatalf("%#x, %#x: relations change when both move by %d", a, b, k)
		}
		// Diff is the inverse of Add.
		if b.Add(int(a.Diff(b))) != a {
			t.Fatalf("%#x + (%#x - %#x) = %#x", b, a, b, b.Add(int(a.Diff(b))))
		}
		// a < a + d for 0 < d < 2^31.
		if d := 1 + int(k%(1<<31-1)); !a.LessThan(a.Add(d)) || !a.Add(d).GreaterThan(a) {
			t.Fatalf("%#x is not before %#x + %d", a, a, d)
		}
		// InWindow agrees with Diff for windows up to 2^31.
		size := k >> 1
		if got, want := a.InWindow(b, size), a.Diff(b) >= 0 && uint32(a.Diff(b)) < size; got != want {
			t.Fatalf("%#x.InWindow(%#x, %d) = %v, want %v", a, b, size, got, want)
		}
		// Max and Min return one of the two, and the later / earlier one.
		if mx, mn := a.Max(b), a.Min(b); (mx != a && mx != b) || (mn != a && mn != b) ||
			mx.LessThan(mn) || (a != b && mx == mn) {
			t.Fatalf("Max(%#x, %#x) = %#x, Min = %#x", a, b, mx, mn)
		}
	}
}
