package icmp

import (
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// step is one call of Allow at t0+at, with the answer expected.
type step struct {
	at    time.Duration
	n     int // calls at that time (default 1)
	allow int // how many of them must be allowed
}

func TestRateLimiterAllow(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name             string
		perSecond, burst int
		steps            []step
	}{
		{"burst then empty", 10, 5, []step{{0, 6, 5}}},
		{"refills one per interval", 10, 5, []step{{0, 5, 5}, {99 * ms, 1, 0}, {100 * ms, 2, 1}, {250 * ms, 2, 1}, {300 * ms, 1, 1}}},
		{"refill capped at burst", 10, 5, []step{{0, 5, 5}, {10 * time.Second, 10, 5}}},
		{"defaults: 50 at once", 0, 0, []step{{0, 60, 50}, {ms, 2, 1}, {50 * ms, 100, 49}}},
		{"default burst, given rate", 100, 0, []step{{0, 60, 50}, {10 * ms, 2, 1}}},
		{"given burst, default rate", 0, 2, []step{{0, 3, 2}, {ms, 2, 1}}},
		{"negative burst means 1", 10, -3, []step{{0, 2, 1}, {100 * ms, 2, 1}}},
		{"negative rate: unlimited", -1, 1, []step{{0, 1000, 1000}}},
		{"time running backwards refills nothing", 10, 2, []step{{time.Second, 2, 2}, {0, 2, 0}, {1100 * ms, 1, 1}}},
		{"first call later than t0", 1, 1, []step{{time.Hour, 2, 1}, {time.Hour + time.Second, 1, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRateLimiter(tt.perSecond, tt.burst)
			for i, s := range tt.steps {
				n := max(s.n, 1)
				got := 0
				for range n {
					if r.Allow(at(s.at)) {
						got++
					}
				}
				if got != s.allow {
					t.Errorf("step %d: %d of %d calls at +%v allowed, want %d", i, got, n, s.at, s.allow)
				}
			}
		})
	}
}

// TestRateLimiterSustained sends faster than the limit for a while: the
// number allowed is the burst plus the rate times the time.
func TestRateLimiterSustained(t *testing.T) {
	for _, tc := range []struct{ perSecond, burst int }{{1000, 50}, {100, 1}, {7, 3}} {
		r := NewRateLimiter(tc.perSecond, tc.burst)
		const span = 10 * time.Second
		got := 0
		for d := time.Duration(0); d <= span; d += 100 * time.Microsecond {
			if r.Allow(at(d)) {
				got++
			}
		}
		want := tc.burst + int(span.Seconds())*tc.perSecond
		if got < want-1 || got > want+1 {
			t.Errorf("%d/s, burst %d: %d allowed in %v, want about %d", tc.perSecond, tc.burst, got, span, want)
		}
	}
}

func TestRateLimiterMonotonic(t *testing.T) {
	// Times from time.Now carry a monotonic reading, which the limiter
	// uses; stripping it must not matter for well-behaved times.
	now := time.Now()
	r := NewRateLimiter(1, 1)
	if !r.Allow(now) || r.Allow(now.Add(500*time.Millisecond)) || !r.Allow(now.Add(time.Second)) {
		t.Error("monotonic times: wrong answers")
	}
}

func TestRateLimiterNil(t *testing.T) {
	var r *RateLimiter
	if !r.Allow(t0) || !r.AllowTo(netip.MustParseAddr("192.0.2.1"), t0) {
		t.Error("nil limiter refused")
	}
}

func TestRateLimiterAllowTo(t *testing.T) {
	a := netip.MustParseAddr("198.51.100.1")
	b := netip.MustParseAddr("198.51.100.2")
	r := NewRateLimiter(0, 0)
	count := func(dst netip.Addr, when time.Time, n int) int {
		got := 0
		for range n {
			if r.AllowTo(dst, when) {
				got++
			}
		}
		return got
	}
	// DestBurst to a, then nothing; b has its own bucket.
	if got := count(a, at(0), 10); got != DestBurst {
		t.Errorf("%d allowed to a at once, want %d", got, DestBurst)
	}
	if got := count(b, at(0), 10); got != DestBurst {
		t.Errorf("%d allowed to b at once, want %d", got, DestBurst)
	}
	// One per DestInterval after that.
	if got := count(a, at(DestInterval-time.Millisecond), 1); got != 0 {
		t.Errorf("a refilled early")
	}
	if got := count(a, at(DestInterval), 3); got != 1 {
		t.Errorf("%d allowed to a after one interval, want 1", got)
	}
	// After a long pause, a burst again, capped.
	if got := count(a, at(time.Hour), 20); got != DestBurst {
		t.Errorf("%d allowed to a after an hour, want %d", got, DestBurst)
	}
	// An IPv4-mapped address is the same destination.
	if got := count(netip.AddrFrom16(a.As16()), at(time.Hour), 1); got != 0 {
		t.Errorf("mapped address has its own bucket")
	}
	// An invalid address only meets the global bucket.
	if got := count(netip.Addr{}, at(2*time.Hour), 10); got != 10 {
		t.Errorf("%d of 10 allowed to the zero Addr", got)
	}
}

// TestRateLimiterAllowToOrder checks that the per-destination bucket is
// consulted first, so messages it refuses cost no global token.
func TestRateLimiterAllowToOrder(t *testing.T) {
	a := netip.MustParseAddr("198.51.100.1")
	r := NewRateLimiter(1, 10)
	allowed := 0
	for range 100 {
		if r.AllowTo(a, t0) {
			allowed++
		}
	}
	if allowed != DestBurst {
		t.Fatalf("%d allowed to a, want %d", allowed, DestBurst)
	}
	left := 0
	for range 20 {
		if r.Allow(t0) {
			left++
		}
	}
	if left != 10-DestBurst {
		t.Errorf("global bucket has %d left, want %d", left, 10-DestBurst)
	}

	// And a global refusal stops AllowTo even with destination tokens.
	b := netip.MustParseAddr("198.51.100.2")
	if r.AllowTo(b, t0) {
		t.Error("AllowTo allowed with the global bucket empty")
	}
}

// sameSet returns n addresses that hash to one set of r's table.
func sameSet(r *RateLimiter, n int) []netip.Addr {
	var out []netip.Addr
	var want uint64
	for i := 0; len(out) < n; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		b := a.As16()
		set := maphash.Bytes(r.seed, b[:]) % destSets
		if len(out) == 0 {
			want = set
		}
		if set == want {
			out = append(out, a)
		}
	}
	return out
}

func TestRateLimiterEviction(t *testing.T) {
	r := NewRateLimiter(-1, 0) // no global limit: watch the destinations only
	r.interval = 1             // but let AllowTo through to the table
	r.tolerance = 1 << 62
	addrs := sameSet(r, destWays+1)
	// Fill the set; empty each bucket, the first one longest ago.
	for i, a := range addrs[:destWays] {
		for range DestBurst {
			if !r.AllowTo(a, at(time.Duration(i)*time.Second)) {
				t.Fatalf("fill %v refused", a)
			}
		}
	}
	present := func() map[netip.Addr]bool {
		m := make(map[netip.Addr]bool)
		for _, set := range r.dest {
			for _, e := range set {
				if e.addr.IsValid() {
					m[e.addr] = true
				}
			}
		}
		return m
	}
	// A new destination evicts the fullest bucket: addrs[0], whose
	// theoretical arrival time is the oldest.
	if !r.AllowTo(addrs[destWays], at(3*time.Second)) {
		t.Fatal("new destination refused")
	}
	if p := present(); p[addrs[0]] || !p[addrs[destWays]] {
		t.Errorf("after the newcomer: %v", p)
	}
	// addrs[0] comes back with a fresh bucket, evicting in turn the
	// newcomer, whose bucket (one token used) is now the fullest.
	if !r.AllowTo(addrs[0], at(3*time.Second)) {
		t.Error("evicted destination not given a fresh bucket")
	}
	if p := present(); !p[addrs[0]] || p[addrs[destWays]] {
		t.Errorf("after addrs[0] came back: %v", p)
	}
	// The emptiest bucket was kept all along.
	if r.AllowTo(addrs[destWays-1], at(3*time.Second)) {
		t.Error("the emptiest bucket was refilled")
	}
	used := 0
	for _, set := range r.dest {
		for _, e := range set {
			if e.addr.IsValid() {
				used++
			}
		}
	}
	if used != destWays {
		t.Errorf("%d entries used, want %d", used, destWays)
	}
}

func TestRateLimiterFlood(t *testing.T) {
	// Many destinations: the table stays bounded and never allocates.
	r := NewRateLimiter(-1, 0)
	r.interval, r.tolerance = 1, 1<<62
	r.Allow(t0) // set the time base
	i := 0
	allocs := testing.AllocsPerRun(10000, func() {
		i++
		r.AllowTo(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), t0)
	})
	if allocs != 0 {
		t.Errorf("AllowTo allocates %v times", allocs)
	}
	a := netip.MustParseAddr("192.0.2.7")
	allocs = testing.AllocsPerRun(100, func() {
		r.Allow(t0)
		r.AllowTo(a, t0)
	})
	if allocs != 0 {
		t.Errorf("Allow and AllowTo allocate %v times", allocs)
	}
}

func TestRateLimiterConcurrent(t *testing.T) {
	r := NewRateLimiter(1, 100)
	var allowed, allowedTo atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 100 {
				if r.Allow(t0) {
					allowed.Add(1)
				}
				if i%10 == 0 && r.AllowTo(netip.AddrFrom4([4]byte{10, 0, byte(w), byte(i)}), t0) {
					allowedTo.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load() + allowedTo.Load(); got != 100 {
		t.Errorf("%d allowed in all (%d by AllowTo), want exactly the burst, 100", got, allowedTo.Load())
	}
}

func TestRateLimited(t *testing.T) {
	tests := []struct {
		typ, code uint8
		want      bool
	}{
		{TypeEchoReply, 0, false},
		{TypeDestUnreach, CodePortUnreach, true},
		{TypeDestUnreach, CodeProtoUnreach, true},
		{TypeDestUnreach, CodeFragNeeded, false},
		{TypeSourceQuench, 0, true},
		{TypeRedirect, 0, false},
		{TypeEcho, 0, false},
		{TypeTimeExceeded, CodeTTLExceeded, true},
		{TypeTimeExceeded, CodeReasmTimeout, true},
		{TypeParamProblem, 0, true},
		{TypeTimestampReply, 0, false},
		{40, 0, false},
		{255, 0, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d", tt.typ, tt.code), func(t *testing.T) {
			if got := RateLimited(tt.typ, tt.code); got != tt.want {
				t.Errorf("RateLimited = %v, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkAllow(b *testing.B) {
	r := NewRateLimiter(-1, 0)
	r.interval, r.tolerance = 1, 1<<62
	for b.Loop() {
		r.Allow(t0)
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	r := NewRateLimiter(-1, 0)
	r.interval, r.tolerance = 1, 1<<62
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Allow(t0)
		}
	})
}

func BenchmarkAllowTo(b *testing.B) {
	r := NewRateLimiter(-1, 0)
	r.interval, r.tolerance = 1, 1<<62
	a := netip.MustParseAddr("198.51.100.1")
	for b.Loop() {
		r.AllowTo(a, t0)
	}
}

func TestRateLimiterExtremes(t *testing.T) {
	// A huge burst and a huge rate must not overflow into refusals.
	r := NewRateLimiter(math.MaxInt, math.MaxInt)
	for i := range 1000 {
		if !r.Allow(at(0)) {
			t.Fatalf("call %d refused", i)
		}
	}
	// Times centuries apart saturate without wrapping.
	r = NewRateLimiter(1, 1)
	if !r.Allow(t0) {
		t.Fatal("first call refused")
	}
	far := t0.AddDate(400, 0, 0)
	if !r.Allow(far) || r.Allow(far) {
		t.Error("far future: want one allowed, then refused")
	}
	past := t0.AddDate(-400, 0, 0)
	if r.Allow(past) {
		t.Error("far past allowed")
	}
	r = NewRateLimiter(1, 1)
	r.Allow(t0)
	if !r.AllowTo(netip.MustParseAddr("192.0.2.1"), far) {
		t.Error("AllowTo in the far future refused")
	}
}
