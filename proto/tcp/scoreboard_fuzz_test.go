package tcp

import (
	"encoding/binary"
	"slices"
	"testing"
)

// decodeScoreboardOps reads a Scoreboard run from fuzz input: a base
// sequence number (4 octets) and a flight length (2, modulo 1024, plus
// one), then Updates of 20 octets each: SND.UNA's advance (modulo 32),
// SND.NXT's move (signed), highRxt from SND.UNA (less 16), SMSS (modulo
// 64), a block count (modulo 6) and 5 blocks of 3 octets, a start (2,
// around [SND.UNA-32, SND.NXT+32)) and a length (1, less 16: may be
// negative); at most 64 Updates.
func decodeScoreboardOps(data []byte) (base Seq, length int, ops []sbOp, ok bool) {
	if len(data) < 6 {
		return 0, 0, nil, false
	}
	base = Seq(binary.BigEndian.Uint32(data))
	length = 1 + int(binary.BigEndian.Uint16(data[4:]))%1024
	una, nxt := 0, 0
	for b := data[6:]; len(b) >= 20 && len(ops) < 64; b = b[20:] {
		nxt = min(max(nxt+int(int8(b[1])), una), length)
		una = min(una+int(b[0])%32, nxt)
		nxt = max(nxt, una)
		o := sbOp{una: una, nxt: nxt, highRxt: una + int(b[2]) - 16, mss: int(b[3]) % 64}
		for i := range int(b[4]) % 6 {
			c := b[5+3*i:]
			s := una - 32 + int(binary.BigEndian.Uint16(c))%(nxt-una+64)
			o.blocks = append(o.blocks, blk{s, s + int(c[2]) - 16})
		}
		ops = append(ops, o)
	}
	return base, length, ops, true
}

// FuzzScoreboard runs Updates from the input on a Scoreboard and on the
// octet-by-octet model of scoreboard_test.go: it must never panic, its
// ranges must stay sorted, disjoint and within [SND.UNA, SND.NXT], and
// every query must agree with the model (runScoreboardOps).
func FuzzScoreboard(f *testing.F) {
	f.Add([]byte("\xff\xff\xff\x00\x01\x00" +
		"\x00\x64\x00\x0a\x03\x00\x3c\x2a\x00\x52\x2a\x00\x68\x2a\x00\x00\x00\x00\x00\x00")) // three ranges: hole lost
	f.Add([]byte("\x00\x00\x00\x00\x00\xc8" +
		"\x0a\x50\x10\x14\x02\x00\x05\x1e\x00\x28\x2e\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x08\x00\x20\x14\x03\x00\x10\x11\x00\x00\x2a\x00\x30\x20\x00\x00\x00\x00\x00\x00")) // D-SACKs
	f.Add([]byte("\x7f\xff\xff\xf0\x00\x40" +
		"\x00\x40\x10\x01\x05\x00\x21\x11\x00\x23\x11\x00\x25\x11\x00\x27\x11\x00\x29\x11")) // many small ranges
	f.Fuzz(func(t *testing.T, data []byte) {
		base, length, ops, ok := decodeScoreboardOps(data)
		if !ok {
			return
		}
		runScoreboardOps(t, base, length, ops)
	})
}

// sbOp is one Update of runScoreboardOps, with the queries' arguments;
// everything is an offset from a base.
type sbOp struct {
	una, nxt, highRxt, mss int
	blocks                 []blk
}

// sbModel is a Scoreboard written plainly from RFC 2018, RFC 2883 and
// RFC 6675: a bit per octet, and every query answered octet by octet.
type sbModel struct {
	sacked   []bool
	una, nxt int
}

func (m *sbModel) runs() []blk {
	var out []blk
	for x := m.una; x < m.nxt; x++ {
		if m.sacked[x] && (x == m.una || !m.sacked[x-1]) {
			y := x
			for y < m.nxt && m.sacked[y] {
				y++
			}
			out = append(out, blk{x, y})
		}
	}
	return out
}

func (m *sbModel) update(una, nxt int, blocks []blk) (newly int, dsack *blk) {
	m.una, m.nxt = una, nxt
	for x := range m.sacked {
		if x < una || x >= nxt {
			m.sacked[x] = false
		}
	}
	if len(blocks) > 0 {
		b := blocks[0]
		if b.lo < b.hi && (b.lo < una && b.hi <= nxt || len(blocks) > 1 && blocks[1].lo <= b.lo && b.hi <= blocks[1].hi) {
			dsack = &b
			blocks = blocks[1:]
		}
	}
	for _, b := range blocks {
		if b.lo >= b.hi || b.hi > nxt || b.hi <= una {
			continue
		}
		var set []int
		for x := max(b.lo, una); x < b.hi; x++ {
			if !m.sacked[x] {
				m.sacked[x] = true
				set = append(set, x)
			}
		}
		if runs := m.runs(); len(runs) > ScoreboardMaxRanges {
			top := runs[len(runs)-1]
			for x := top.lo; x < top.hi; x++ {
				m.sacked[x] = false
			}
		}
		for _, x := range set {
			if m.sacked[x] {
				newly++
			}
		}
	}
	return newly, dsack
}

// at reports whether octet x is SACKed, false outside the octets modelled.
func (m *sbModel) at(x int) bool { return x >= 0 && x < len(m.sacked) && m.sacked[x] }

// lostTable returns RFC 6675 IsLost for the octets from lo to hi-1, worked
// out from the top down: an octet is lost with DupThresh SACKed runs
// wholly above it, or more than (DupThresh-1)*SMSS SACKed octets above it.
func (m *sbModel) lostTable(lo, hi, mss int) func(x int) bool {
	mss = max(mss, 1)
	lost := make([]bool, hi-lo)
	runs, bytes := 0, 0
	for x := hi - 1; x >= lo; x-- {
		if m.at(x + 1) {
			bytes++
			if !m.at(x) {
				runs++ // a run starts at x+1
			}
		}
		lost[x-lo] = runs >= 3 || bytes > 2*mss
	}
	return func(x int) bool { return lost[x-lo] }
}

func (m *sbModel) highest() int {
	for x := m.nxt - 1; x >= m.una; x-- {
		if m.sacked[x] {
			return x + 1
		}
	}
	return m.una
}

// seg is the run of unSACKed octets from x below SND.NXT, up to mss.
func (m *sbModel) seg(x, mss int) int {
	n := 0
	for x+n < m.nxt && !m.sacked[x+n] && n < max(mss, 1) {
		n++
	}
	return n
}

func runScoreboardOps(t *testing.T, base Seq, length int, ops []sbOp) {
	t.Helper()
	var s Scoreboard
	s.Reset(base)
	m := &sbModel{sacked: make([]bool, length)}
	for i, o := range ops {
		// The random blocks may lie outside the modelled octets; clip them
		// as the model needs, keeping them bogus (or D-SACK) if they were.
		mb := make([]blk, len(o.blocks))
		for j, b := range o.blocks {
			mb[j] = blk{min(max(b.lo, -1<<30), length+1<<30), min(max(b.hi, -1<<30), length+1<<30)}
		}
		got := s.Update(base.Add(o.una), toBlocks(base, mb), base.Add(o.nxt))
		want, wantD := m.update(o.una, o.nxt, mb)
		if got != want {
			t.Fatalf("op %d %+v: newly SACKed %d, model %d", i, o, got, want)
		}
		d, ok := s.DSACK()
		if ok != (wantD != nil) || ok && d != toBlocks(base, []blk{*wantD})[0] {
			t.Fatalf("op %d %+v: DSACK %v %v, model %v", i, o, d, ok, wantD)
		}
		checkScoreboard(t, &s, base, o.una, o.nxt)
		runs := m.runs()
		if got, want := s.ranges[:s.n], toBlocks(base, runs); !slices.Equal(got, want) {
			t.Fatalf("op %d %+v: ranges %v, model %v", i, o, got, want)
		}
		if got, want := s.HighestSacked(), base.Add(m.highest()); got != want {
			t.Fatalf("op %d: HighestSacked %#x, model %#x", i, got, want)
		}
		una, nxt, rxt := base.Add(o.una), base.Add(o.nxt), base.Add(o.highRxt)
		pipe := 0
		isLost := m.lostTable(o.una-3, max(o.nxt, o.highRxt)+3, o.mss)
		for x := o.una - 3; x < o.nxt+3; x++ {
			in := x >= o.una && x < o.nxt
			if got := s.IsSacked(base.Add(x)); got != (in && m.sacked[x]) {
				t.Fatalf("op %d: IsSacked(%d) = %v", i, x, got)
			}
			lost := isLost(x)
			if got := s.IsLost(base.Add(x), o.mss); got != lost {
				t.Fatalf("op %d: IsLost(%d, %d) = %v, model %v", i, x, o.mss, got, lost)
			}
			if in && !m.sacked[x] {
				if !lost {
					pipe++
				}
				if x < o.highRxt {
					pipe++
				}
			}
		}
		if got := s.Pipe(una, nxt, rxt, o.mss); got != pipe {
			t.Fatalf("op %d %+v: Pipe %d, model %d", i, o, got, pipe)
		}
		// NextSeg rules (1) and (3), and the rescue segment of rule (4).
		var s1, s3 *int
		for x := max(o.una, o.highRxt); x < m.highest(); x++ {
			if !m.sacked[x] {
				if s3 == nil {
					s3 = &x
				}
				if isLost(x) {
					s1 = &x
					break
				}
			}
		}
		checkSeg := func(what string, st Seq, n int, ok bool, want *int) {
			t.Helper()
			if ok != (want != nil) || ok && (st != base.Add(*want) || n != m.seg(*want, o.mss)) {
				t.Fatalf("op %d %+v: %s = %d+%d %v, model %v", i, o, what, int(st.Diff(base)), n, ok, want)
			}
		}
		st, n, ok := s.NextSeg(una, nxt, rxt, o.mss)
		checkSeg("NextSeg", st, n, ok, s1)
		st, n, ok = s.NextSegUnsacked(una, rxt, o.mss)
		checkSeg("NextSegUnsacked", st, n, ok, s3)
		st, n, ok = s.RescueSeg(una, nxt, o.mss)
		h := o.nxt - 1
		for h >= o.una && m.sacked[h] {
			h--
		}
		if h < o.una {
			if ok {
				t.Fatalf("op %d: RescueSeg = %d+%d with everything SACKed", i, int(st.Diff(base)), n)
			}
		} else {
			lo := h
			for lo > o.una && !m.sacked[lo-1] && h-lo+1 < max(o.mss, 1) {
				lo--
			}
			if !ok || st != base.Add(lo) || n != h+1-lo {
				t.Fatalf("op %d %+v: RescueSeg = %d+%d %v, model %d+%d", i, o, int(st.Diff(base)), n, ok, lo, h+1-lo)
			}
		}
	}
}

// checkScoreboard checks the invariants of s: ranges sorted, disjoint,
// not touching, non-empty, within [una, nxt], adding up to SackedBytes.
func checkScoreboard(t *testing.T, s *Scoreboard, base Seq, una, nxt int) {
	t.Helper()
	if s.n < 0 || s.n > ScoreboardMaxRanges {
		t.Fatalf("%d ranges", s.n)
	}
	sum := 0
	for i, r := range s.ranges[:s.n] {
		lo, hi := int(r.Start.Diff(base)), int(r.End.Diff(base))
		if lo >= hi || lo < una || hi > nxt {
			t.Fatalf("range %d [%d, %d) empty or outside [%d, %d]", i, lo, hi, una, nxt)
		}
		if i > 0 && s.ranges[i-1].End.GreaterEq(r.Start) {
			t.Fatalf("ranges %d and %d overlap or touch: %v", i-1, i, s.ranges[:s.n])
		}
		sum += hi - lo
	}
	if sum != s.SackedBytes() || s.Empty() != (s.n == 0) {
		t.Fatalf("ranges add up to %d, SackedBytes %d, Empty %v", sum, s.SackedBytes(), s.Empty())
	}
}
