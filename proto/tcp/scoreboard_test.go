package tcp

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// sbUpdate is one Update in a table, with offsets from a base.
type sbUpdate struct {
	una, nxt int
	blocks   []blk
	newly    int
	dsack    *blk
}

func TestScoreboardUpdate(t *testing.T) {
	tests := []struct {
		name    string
		updates []sbUpdate
		ranges  []blk
	}{
		{"one block", []sbUpdate{{0, 10000, []blk{{1000, 2000}}, 1000, nil}}, []blk{{1000, 2000}}},
		{"repeat counts once", []sbUpdate{
			{0, 10000, []blk{{1000, 2000}}, 1000, nil},
			{0, 10000, []blk{{1000, 2000}}, 0, nil},
			{0, 10000, []blk{{3000, 4000}, {1000, 2000}}, 1000, nil},
		}, []blk{{1000, 2000}, {3000, 4000}}},
		{"no blocks", []sbUpdate{{0, 10000, nil, 0, nil}}, nil},
		{"ends after SND.NXT ignored", []sbUpdate{{0, 10000, []blk{{9000, 10001}, {5000, 6000}}, 1000, nil}}, []blk{{5000, 6000}}},
		{"ends at SND.NXT kept", []sbUpdate{{0, 10000, []blk{{9000, 10000}}, 1000, nil}}, []blk{{9000, 10000}}},
		{"below SND.UNA ignored", []sbUpdate{{1000, 10000, []blk{{5000, 6000}, {0, 500}, {500, 1000}}, 1000, nil}}, []blk{{5000, 6000}}},
		{"straddling SND.UNA cut", []sbUpdate{{1000, 10000, []blk{{5000, 6000}, {500, 1500}}, 1500, nil}}, []blk{{1000, 1500}, {5000, 6000}}},
		{"empty and inverted ignored", []sbUpdate{{0, 10000, []blk{{2000, 1000}, {3000, 3000}, {4000, 4100}}, 100, nil}}, []blk{{4000, 4100}}},
		{"merge overlapping and touching", []sbUpdate{{0, 10000, []blk{{1000, 2000}, {1500, 3000}, {3000, 3500}}, 2500, nil}}, []blk{{1000, 3500}}},
		{"merge across several", []sbUpdate{
			{0, 10000, []blk{{1000, 1100}, {2000, 2100}, {3000, 3100}, {4000, 4100}}, 400, nil},
			{0, 10000, []blk{{1050, 3050}}, 1800, nil},
		}, []blk{{1000, 3100}, {4000, 4100}}},
		{"out of order blocks", []sbUpdate{{0, 10000, []blk{{5000, 6000}, {1000, 2000}, {3000, 4000}}, 3000, nil}},
			[]blk{{1000, 2000}, {3000, 4000}, {5000, 6000}}},
		{"D-SACK below SND.UNA", []sbUpdate{{1000, 10000, []blk{{500, 1000}, {2000, 3000}}, 1000, &blk{500, 1000}}}, []blk{{2000, 3000}}},
		{"D-SACK alone", []sbUpdate{{1000, 10000, []blk{{0, 1000}}, 0, &blk{0, 1000}}}, nil},
		{"D-SACK straddling SND.UNA", []sbUpdate{{1000, 10000, []blk{{500, 1500}}, 0, &blk{500, 1500}}}, nil},
		{"D-SACK inside second", []sbUpdate{{0, 10000, []blk{{2200, 2300}, {2000, 3000}, {5000, 5500}}, 1500, &blk{2200, 2300}}},
			[]blk{{2000, 3000}, {5000, 5500}}},
		{"D-SACK equal to second", []sbUpdate{{0, 10000, []blk{{2000, 3000}, {2000, 3000}}, 1000, &blk{2000, 3000}}}, []blk{{2000, 3000}}},
		{"not D-SACK: apart from second", []sbUpdate{{0, 10000, []blk{{5000, 6000}, {2000, 3000}}, 2000, nil}},
			[]blk{{2000, 3000}, {5000, 6000}}},
		{"not D-SACK: overlaps second only in part", []sbUpdate{{0, 10000, []blk{{2500, 3500}, {2000, 3000}}, 1500, nil}},
			[]blk{{2000, 3500}}},
		{"not D-SACK: below SND.UNA but beyond SND.NXT", []sbUpdate{{1000, 10000, []blk{{500, 10001}}, 0, nil}}, nil},
		{"D-SACK forgotten by next Update", []sbUpdate{
			{1000, 10000, []blk{{500, 1000}}, 0, &blk{500, 1000}},
			{1000, 10000, []blk{{2000, 3000}}, 1000, nil},
		}, []blk{{2000, 3000}}},
		{"SND.UNA advance trims", []sbUpdate{
			{0, 10000, []blk{{1000, 2000}, {3000, 4000}}, 2000, nil},
			{1500, 10000, nil, 0, nil},
		}, []blk{{1500, 2000}, {3000, 4000}}},
		{"SND.UNA advance drops", []sbUpdate{
			{0, 10000, []blk{{1000, 2000}, {3000, 4000}}, 2000, nil},
			{4000, 10000, nil, 0, nil},
		}, nil},
		{"SND.UNA at range end", []sbUpdate{
			{0, 10000, []blk{{1000, 2000}, {3000, 4000}}, 2000, nil},
			{2000, 10000, []blk{{3000, 4000}}, 0, nil},
		}, []blk{{3000, 4000}}},
		{"SND.NXT retreat trims", []sbUpdate{
			{0, 10000, []blk{{1000, 2000}, {3000, 4000}}, 2000, nil},
			{0, 3500, nil, 0, nil},
		}, []blk{{1000, 2000}, {3000, 3500}}},
		{"SND.NXT before SND.UNA", []sbUpdate{
			{0, 10000, []blk{{1000, 2000}}, 1000, nil},
			{5000, 4000, []blk{{1000, 2000}}, 0, &blk{1000, 2000}}, // before SND.UNA: D-SACK
		}, nil},
	}
	for _, tt := range tests {
		for _, base := range wrapISNs {
			t.Run(fmt.Sprintf("%s/%#x", tt.name, uint32(base)), func(t *testing.T) {
				var s Scoreboard
				s.Reset(base)
				for i, u := range tt.updates {
					if got := s.Update(base.Add(u.una), toBlocks(base, u.blocks), base.Add(u.nxt)); got != u.newly {
						t.Errorf("update %d: newly SACKed %d, want %d", i, got, u.newly)
					}
					d, ok := s.DSACK()
					switch {
					case u.dsack == nil && ok:
						t.Errorf("update %d: DSACK = %v, want none", i, d)
					case u.dsack != nil && (!ok || d != toBlocks(base, []blk{*u.dsack})[0]):
						t.Errorf("update %d: DSACK = %v %v, want %v", i, d, ok, toBlocks(base, []blk{*u.dsack})[0])
					}
				}
				if got, want := s.ranges[:s.n], toBlocks(base, tt.ranges); !slices.Equal(got, want) {
					t.Errorf("ranges %v, want %v", got, want)
				}
				sum := 0
				for _, r := range tt.ranges {
					sum += r.hi - r.lo
				}
				if s.SackedBytes() != sum || s.Empty() != (sum == 0) {
					t.Errorf("SackedBytes %d, Empty %v; want %d", s.SackedBytes(), s.Empty(), sum)
				}
				last := tt.updates[len(tt.updates)-1]
				want := base.Add(last.una)
				if len(tt.ranges) > 0 {
					want = base.Add(tt.ranges[len(tt.ranges)-1].hi)
				}
				if got := s.HighestSacked(); got != want {
					t.Errorf("HighestSacked %#x, want %#x", got, want)
				}
			})
		}
	}
}

// TestScoreboardRFC6675 works examples from RFC 6675's definitions by
// hand: a flight of ten segments of 1000 octets, offsets 0 to 10000.
func TestScoreboardRFC6675(t *testing.T) {
	const mss = 1000
	type seg struct {
		start, length int
		ok            bool
	}
	type query struct {
		highRxt  int
		nextSeg  seg // rule (1)
		unsacked seg // rule (3)
		pipe     int
	}
	tests := []struct {
		name    string
		blocks  []blk
		lost    []int // octets IsLost reports lost
		notLost []int // octets it does not
		queries []query
		rescue  seg
	}{
		{
			// Segments 2, 3 and 4 SACKed: 3000 octets > (DupThresh-1)*SMSS
			// above 0 to 1999, so segments 0 and 1 are lost.
			name: "three segments SACKed above", blocks: []blk{{2000, 5000}},
			lost: []int{0, 999, 1000, 1999}, notLost: []int{5000, 9999},
			queries: []query{
				{0, seg{0, 1000, true}, seg{0, 1000, true}, 5000},          // all of the tail in flight, the holes lost
				{1000, seg{1000, 1000, true}, seg{1000, 1000, true}, 6000}, // segment 0 retransmitted: in flight again
				{2000, seg{}, seg{}, 7000},                                 // both retransmitted: nothing left below the SACK
			},
			rescue: seg{9000, 1000, true},
		},
		{
			// Two segments SACKed: 2000 octets, not more than 2*SMSS, and
			// one range: nothing is lost yet.
			name: "two segments SACKed", blocks: []blk{{2000, 4000}},
			notLost: []int{0, 1999},
			queries: []query{
				{0, seg{}, seg{0, 1000, true}, 8000},
				{1500, seg{}, seg{1500, 500, true}, 9500},
			},
			rescue: seg{9000, 1000, true},
		},
		{
			// Three discontiguous SACKed ranges of 100 octets: DupThresh
			// ranges above segment 0 make it lost, though only 300 octets
			// are SACKed; above 1100 there are only two.
			name: "three discontiguous ranges", blocks: []blk{{1000, 1100}, {3000, 3100}, {5000, 5100}},
			lost: []int{0, 999}, notLost: []int{1100, 2999, 3100, 5100},
			queries: []query{
				{0, seg{0, 1000, true}, seg{0, 1000, true}, 1900 + 1900 + 4900},
				{1000, seg{}, seg{1100, 1000, true}, 1000 + 1900 + 1900 + 4900},
			},
			rescue: seg{9000, 1000, true},
		},
		{
			name: "hole shorter than SMSS", blocks: []blk{{500, 3500}},
			lost: []int{0, 499}, notLost: []int{3500},
			queries: []query{
				{0, seg{0, 500, true}, seg{0, 500, true}, 6500},
				{250, seg{250, 250, true}, seg{250, 250, true}, 6750},
			},
			rescue: seg{9000, 1000, true},
		},
		{
			// Everything from segment 2 to SND.NXT SACKed: the rescue
			// retransmission is the highest unSACKed segment, 1.
			name: "SACKed up to SND.NXT", blocks: []blk{{2000, 10000}},
			lost:    []int{0, 1999},
			queries: []query{{0, seg{0, 1000, true}, seg{0, 1000, true}, 0}},
			rescue:  seg{1000, 1000, true},
		},
		{
			name: "holes lost bottom up", blocks: []blk{{1000, 2000}, {3000, 4000}, {5000, 6000}, {7000, 8000}},
			lost: []int{0, 2999}, notLost: []int{4000, 6000, 8000},
			queries: []query{
				// Holes [0, 1000) and [2000, 3000) have DupThresh ranges above;
				// [4000, 5000) has two ranges and 2000 octets: not lost.
				{0, seg{0, 1000, true}, seg{0, 1000, true}, 1000 + 1000 + 2000},
				{1000, seg{2000, 1000, true}, seg{2000, 1000, true}, 1000 + 1000 + 1000 + 2000},
				{3000, seg{}, seg{4000, 1000, true}, 2000 + 1000 + 1000 + 2000},
			},
			rescue: seg{9000, 1000, true},
		},
		{
			name:    "nothing SACKed",
			notLost: []int{0, 9999},
			queries: []query{{0, seg{}, seg{}, 10000}, {3000, seg{}, seg{}, 13000}, {20000, seg{}, seg{}, 20000}},
			rescue:  seg{9000, 1000, true},
		},
	}
	for _, tt := range tests {
		for _, base := range wrapISNs {
			t.Run(fmt.Sprintf("%s/%#x", tt.name, uint32(base)), func(t *testing.T) {
				var s Scoreboard
				s.Reset(base)
				una, nxt := base, base.Add(10000)
				s.Update(una, toBlocks(base, tt.blocks), nxt)
				for _, x := range tt.lost {
					if !s.IsLost(base.Add(x), mss) {
						t.Errorf("IsLost(%d) = false, want true", x)
					}
				}
				for _, x := range tt.notLost {
					if s.IsLost(base.Add(x), mss) {
						t.Errorf("IsLost(%d) = true, want false", x)
					}
				}
				check := func(what string, st Seq, n int, ok bool, want seg) {
					t.Helper()
					if ok != want.ok || ok && (st != base.Add(want.start) || n != want.length) {
						t.Errorf("%s = %d+%d %v, want %d+%d %v", what, int(st.Diff(base)), n, ok, want.start, want.length, want.ok)
					}
				}
				for _, q := range tt.queries {
					rxt := base.Add(q.highRxt)
					st, n, ok := s.NextSeg(una, nxt, rxt, mss)
					check(fmt.Sprintf("NextSeg(highRxt %d)", q.highRxt), st, n, ok, q.nextSeg)
					st, n, ok = s.NextSegUnsacked(una, rxt, mss)
					check(fmt.Sprintf("NextSegUnsacked(highRxt %d)", q.highRxt), st, n, ok, q.unsacked)
					if got := s.Pipe(una, nxt, rxt, mss); got != q.pipe {
						t.Errorf("Pipe(highRxt %d) = %d, want %d", q.highRxt, got, q.pipe)
					}
				}
				st, n, ok := s.RescueSeg(una, nxt, mss)
				check("RescueSeg", st, n, ok, tt.rescue)
			})
		}
	}
}

func TestScoreboardRescueSeg(t *testing.T) {
	tests := []struct {
		name          string
		blocks        []blk
		mss           int
		start, length int
		ok            bool
	}{
		{"tail unSACKed", []blk{{1000, 2000}}, 1000, 9000, 1000, true},
		{"short hole below top", []blk{{1000, 2000}, {2500, 10000}}, 1000, 2000, 500, true},
		{"long hole below top", []blk{{1000, 2000}, {2500, 10000}}, 300, 2200, 300, true},
		{"hole down to SND.UNA", []blk{{500, 10000}}, 1000, 0, 500, true},
		{"all SACKed", []blk{{0, 10000}}, 1000, 0, 0, false},
		{"mss below one", []blk{{1000, 2000}}, 0, 9999, 1, true},
	}
	for _, tt := range tests {
		for _, base := range wrapISNs {
			var s Scoreboard
			s.Update(base, toBlocks(base, tt.blocks), base.Add(10000))
			st, n, ok := s.RescueSeg(base, base.Add(10000), tt.mss)
			if ok != tt.ok || ok && (st != base.Add(tt.start) || n != tt.length) {
				t.Errorf("%s/%#x: RescueSeg = %d+%d %v, want %d+%d %v", tt.name, uint32(base),
					int(st.Diff(base)), n, ok, tt.start, tt.length, tt.ok)
			}
		}
	}
	var s Scoreboard
	if _, _, ok := s.RescueSeg(100, 100, 1000); ok {
		t.Error("RescueSeg with nothing outstanding: ok")
	}
}

// TestScoreboardFragmentation reports more discontiguous ranges than the
// scoreboard keeps: the lowest stay, the count of SACKed octets follows.
func TestScoreboardFragmentation(t *testing.T) {
	const total = ScoreboardMaxRanges + 10
	for _, base := range wrapISNs {
		for _, reverse := range []bool{false, true} {
			var s Scoreboard
			s.Reset(base)
			for k := range total {
				i := k
				if reverse {
					i = total - 1 - k
				}
				s.Update(base, []SACKBlock{{base.Add(100*i + 50), base.Add(100*i + 60)}}, base.Add(100*total))
			}
			if s.n != ScoreboardMaxRanges || s.SackedBytes() != 10*ScoreboardMaxRanges {
				t.Fatalf("%#x reverse=%v: %d ranges, %d SACKed", base, reverse, s.n, s.SackedBytes())
			}
			for i := range s.n {
				if want := (SACKBlock{base.Add(100*i + 50), base.Add(100*i + 60)}); s.ranges[i] != want {
					t.Fatalf("%#x reverse=%v: range %d = %v, want %v", base, reverse, i, s.ranges[i], want)
				}
			}
		}
	}
}

func TestScoreboardIsSacked(t *testing.T) {
	for _, base := range wrapISNs {
		var s Scoreboard
		s.Update(base, toBlocks(base, []blk{{10, 20}, {30, 40}}), base.Add(100))
		for x := -5; x < 50; x++ {
			want := x >= 10 && x < 20 || x >= 30 && x < 40
			if got := s.IsSacked(base.Add(x)); got != want {
				t.Errorf("%#x: IsSacked(%d) = %v, want %v", base, x, got, want)
			}
		}
		s.Reset(base.Add(100))
		if !s.Empty() || s.SackedBytes() != 0 || s.HighestSacked() != base.Add(100) || s.IsSacked(base.Add(15)) {
			t.Errorf("%#x: after Reset: Empty %v, SackedBytes %d, HighestSacked %#x", base, s.Empty(), s.SackedBytes(), s.HighestSacked())
		}
	}
}

// TestScoreboardModel runs random Updates (valid, bogus, D-SACK, with
// SND.UNA and SND.NXT moving) against sbModel, over many seeds, checking
// every query at every octet.
func TestScoreboardModel(t *testing.T) {
	seeds := 200
	if testing.Short() {
		seeds = 40
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 0x5c0e))
		base := wrapISNs[seed%len(wrapISNs)]
		length := 100 + r.IntN(600)
		maxBlock, unaStep := 1+r.IntN(80), 40
		if seed%4 == 0 {
			// Tiny blocks and a slow SND.UNA: more ranges than are kept.
			maxBlock, unaStep = 1+r.IntN(3), 2
		}
		var ops []sbOp
		una, nxt := 0, 0
		for range 150 {
			switch k := r.IntN(10); {
			case k < 2:
				una = min(una+r.IntN(unaStep), nxt)
			case k < 5:
				nxt = min(nxt+r.IntN(80), length)
			case k < 6:
				nxt = max(nxt-r.IntN(20), una)
			}
			o := sbOp{una: una, nxt: nxt, highRxt: una - 10 + r.IntN(nxt-una+20), mss: r.IntN(60)}
			for range r.IntN(MaxSACKBlocks + 2) {
				s := una - 30 + r.IntN(nxt-una+60)
				e := s + r.IntN(maxBlock+1)
				switch r.IntN(12) {
				case 0:
					s, e = e, s // inverted
				case 1:
					s, e = s+1<<30, e+1<<30 // far away
				}
				o.blocks = append(o.blocks, blk{s, e})
			}
			if len(o.blocks) > 1 && r.IntN(4) == 0 {
				// A D-SACK inside the second block.
				b := o.blocks[1]
				if b.lo < b.hi {
					s := b.lo + r.IntN(b.hi-b.lo)
					o.blocks[0] = blk{s, s + r.IntN(b.hi-s+1)}
				}
			}
			ops = append(ops, o)
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			runScoreboardOps(t, base, length, ops)
		})
	}
}

func TestScoreboardAllocs(t *testing.T) {
	var s Scoreboard
	una := Seq(0xffffff00)
	blocks := []SACKBlock{{una.Add(3000), una.Add(4000)}, {una.Add(6000), una.Add(7000)}, {una.Add(1000), una.Add(2000)}}
	allocs := testing.AllocsPerRun(100, func() {
		s.Reset(una)
		s.Update(una, blocks, una.Add(10000))
		s.IsLost(una, 1000)
		s.NextSeg(una, una.Add(10000), una, 1000)
		s.NextSegUnsacked(una, una, 1000)
		s.RescueSeg(una, una.Add(10000), 1000)
		s.Pipe(una, una.Add(10000), una.Add(1000), 1000)
		s.Update(una.Add(2500), blocks[:1], una.Add(10000))
	})
	if allocs != 0 {
		t.Fatalf("Update/IsLost/NextSeg/Pipe: %v allocations per run, want 0", allocs)
	}
}

// BenchmarkScoreboardRecovery is a loss recovery over a flight of 100
// segments with every fifth lost: an ACK with three SACK blocks per
// segment delivered, and the NextSeg and Pipe queries of RFC 6675 5 (C).
func BenchmarkScoreboardRecovery(b *testing.B) {
	const mss, segs = 1448, 100
	var s Scoreboard
	for b.Loop() {
		s.Reset(0)
		nxt := Seq(0).Add(mss * segs)
		var blocks [3]SACKBlock
		for i := 1; i < segs; i++ {
			if i%5 == 0 {
				continue
			}
			blocks[0] = SACKBlock{Seq(0).Add(mss * i), Seq(0).Add(mss * (i + 1))}
			blocks[1] = SACKBlock{Seq(0).Add(mss * max(i-5, 1)), Seq(0).Add(mss * max(i-4, 2))}
			blocks[2] = blocks[1]
			s.Update(0, blocks[:], nxt)
			s.NextSeg(0, nxt, 0, mss)
			s.Pipe(0, nxt, 0, mss)
		}
	}
}
