package ipv4

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func TestReasmTimeout(t *testing.T) {
	t.Run("with fragment zero", func(t *testing.T) {
		rt := newReasmTest(t, ReasmConfig{Timeout: 45 * time.Second})
		first := frag(t, 4, 0, true, pattern(64, 0))
		rt.mustAdd(t, first, nil)
		rt.clock.Advance(40 * time.Second)
		// A later fragment does not extend the timeout.
		rt.mustAdd(t, frag(t, 4, 128, false, pattern(10, 0)), nil)
		rt.clock.Advance(5*time.Second - 1)
		if len(rt.timedOut()) != 0 || rt.Stats().Pending != 1 {
			t.Fatal("timed out early")
		}
		rt.clock.Advance(1)
		got := rt.timedOut()
		if len(got) != 1 {
			t.Fatalf("%d timeouts reported, want 1", len(got))
		}
		// RFC 792: the header and the first 64 bits of data.
		sameBytes(t, "timeout report", got[0], first[:HeaderLen+8])
		rt.checkStats(t, ReasmStats{ReasmReqds: 2, ReasmFails: 1, Timeouts: 1})
		rt.clock.Advance(time.Hour)
		if len(rt.timedOut()) != 1 {
			t.Error("timed out twice")
		}
	})
	t.Run("without fragment zero", func(t *testing.T) {
		rt := newReasmTest(t, ReasmConfig{})
		rt.mustAdd(t, frag(t, 4, 8, true, pattern(64, 0)), nil)
		rt.mustAdd(t, frag(t, 4, 128, false, pattern(10, 0)), nil)
		rt.clock.Advance(DefaultReasmTimeout)
		if len(rt.timedOut()) != 0 {
			t.Error("onTimeout called without fragment zero (RFC 1122 3.3.2)")
		}
		rt.checkStats(t, ReasmStats{ReasmReqds: 2, ReasmFails: 1, Timeouts: 1})
	})
	t.Run("completed in time", func(t *testing.T) {
		rt := newReasmTest(t, ReasmConfig{})
		rt.mustAdd(t, frag(t, 4, 0, true, pattern(8, 0)), nil)
		rt.clock.Advance(DefaultReasmTimeout - 1)
		if rt.mustAdd(t, frag(t, 4, 8, false, pattern(8, 0)), nil) == nil {
			t.Fatal("not reassembled")
		}
		if rt.ts.Len() != 0 {
			t.Errorf("%d timers left armed", rt.ts.Len())
		}
		rt.clock.Advance(time.Hour)
		if len(rt.timedOut()) != 0 || rt.Stats().Timeouts != 0 {
			t.Error("completed datagram timed out")
		}
	})
}

// TestReasmMemory checks that MaxBytes holds and that the oldest
// datagrams are evicted first.
func TestReasmMemory(t *testing.T) {
	const max = 10000
	rt := newReasmTest(t, ReasmConfig{MaxBytes: max})
	data := pattern(1000, 0)
	for id := range uint16(50) {
		rt.mustAdd(t, frag(t, id, 0, true, data), nil)
		if s := rt.Stats(); s.Bytes > max {
			t.Fatalf("after %d datagrams: %d bytes > %d", id+1, s.Bytes, max)
		}
	}
	s := rt.Stats()
	per := 1000 + HeaderLen + fragmentOverhead + datagramOverhead
	if s.Pending != max/per || s.MemoryDrops != uint64(50-max/per) || s.Bytes != s.Pending*per {
		t.Fatalf("stats %+v, want %d pending", s, max/per)
	}
	// The newest datagrams are the ones kept.
	if rt.mustAdd(t, frag(t, 49, 1000, false, data[:1]), nil) == nil {
		t.Error("newest datagram was evicted")
	}
	rt.mustAdd(t, frag(t, 0, 1000, false, data[:1]), nil) // the oldest: starts afresh
	if rt.Stats().ReasmOKs != 1 {
		t.Error("oldest datagram was kept")
	}
	// A datagram that alone exceeds the bound is refused.
	big := pattern(10000, 0)
	rt.mustAdd(t, frag(t, 100, 0, true, big[:5000]), nil)
	rt.mustAdd(t, frag(t, 100, 5000, true, big[5000:]), ErrReasmMemory)
	if s := rt.Stats(); s.Bytes > max || rt.pendingHas(100) {
		t.Errorf("oversized datagram kept: %+v", s)
	}
}

func (r *Reassembler) pendingHas(id uint16) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.pending {
		if k.id == id {
			return true
		}
	}
	return false
}

// TestReasmFlood sends many random fragments of random datagrams: the
// memory bound holds throughout and everything is freed at the end.
func TestReasmFlood(t *testing.T) {
	const max = 64 << 10
	rt := newReasmTest(t, ReasmConfig{MaxBytes: max})
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 50000 {
		n := 8 * (1 + r.IntN(180))
		f := build(t, Fields{ID: uint16(r.Uint32()), Flags: FlagMF, FragOff: 8 * r.IntN(8000), TTL: 64,
			Protocol: uint8(r.Uint32()), Src: testSrc, Dst: testDst}, nil, pattern(n, byte(i)))
		_, err := rt.Add(f)
		if err != nil && !errors.Is(err, ErrTooBig) && !errors.Is(err, ErrReasmMemory) && !errors.Is(err, ErrOverlap) {
			t.Fatalf("Add: %v", err)
		}
		if s := rt.Stats(); s.Bytes > max {
			t.Fatalf("fragment %d: %d bytes > %d", i, s.Bytes, max)
		}
		if i%1000 == 0 {
			rt.clock.Advance(time.Second)
		}
	}
	s := rt.Stats()
	if s.MemoryDrops == 0 || s.Pending == 0 {
		t.Errorf("flood did not reach the bound: %+v", s)
	}
	rt.clock.Advance(DefaultReasmTimeout)
	if s := rt.Stats(); s.Pending != 0 || s.Bytes != 0 {
		t.Errorf("after the timeout: %+v", s)
	}
}

func TestReasmMaxFragments(t *testing.T) {
	rt := newReasmTest(t, ReasmConfig{MaxFragments: 4})
	for i := range 4 {
		rt.mustAdd(t, frag(t, 8, 16*i, true, pattern(8, 0)), nil)
	}
	rt.mustAdd(t, frag(t, 8, 64, true, pattern(8, 0)), ErrTooManyFragments)
	rt.mustAdd(t, frag(t, 8, 8, true, pattern(8, 0)), ErrOverlap) // dropped until the timeout
	if s := rt.Stats(); s.Bytes != datagramOverhead || s.ReasmFails != 1 {
		t.Errorf("stats %+v", s)
	}
}
