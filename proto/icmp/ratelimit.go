package icmp

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Linux's defaults for the limits a RateLimiter applies.
const (
	// DefaultPerSecond and DefaultBurst are the global limit:
	// net.ipv4.icmp_msgs_per_sec and net.ipv4.icmp_msgs_burst.
	DefaultPerSecond = 1000
	DefaultBurst     = 50

	// DestInterval and DestBurst are the per-destination limit AllowTo
	// adds: one message per net.ipv4.icmp_ratelimit (1 s), with bursts of
	// XRLIM_BURST_FACTOR (6) messages.
	DestInterval = time.Second
	DestBurst    = 6
)

// DefaultRateMask is Linux's net.ipv4.icmp_ratemask: the types whose
// messages are rate limited, one bit per type (destination unreachable,
// source quench, time exceeded, parameter problem).
const DefaultRateMask uint32 = 1<<TypeDestUnreach | 1<<TypeSourceQuench |
	1<<TypeTimeExceeded | 1<<TypeParamProblem

// RateLimited reports whether an outgoing message of type typ and code
// code should pass through a RateLimiter, as Linux's icmpv4_mask_allow
// decides: the types in DefaultRateMask are, except fragmentation needed,
// which is never limited so that path MTU discovery (RFC 1191) works.
// Echo replies are not limited.
func RateLimited(typ, code uint8) bool {
	if typ == TypeDestUnreach && code == CodeFragNeeded {
		return false
	}
	return typ < 32 && DefaultRateMask&(1<<typ) != 0
}

// RateLimiter limits the rate of the ICMP messages a stack sends (RFC 1812
// 4.3.2.8; RFC 1122 3.2.2 allows a host to limit its error messages).
//
// It is a token bucket, kept as a generic cell rate algorithm: one
// "theoretical arrival time" per bucket, advanced by the interval between
// messages at each message allowed, and compared with the current time
// plus the burst tolerance. The bucket starts full.
//
// Allow applies one global bucket, as Linux's icmp_global_allow. AllowTo
// first applies a bucket for the destination, as Linux's inet_peer based
// icmpv4_xrlim_allow, then the global one. Checking per destination first,
// as Linux does since 2024, keeps the global bucket from being drained by
// messages the per-destination limit would have refused, which
// otherwise leaks to one peer how many errors the stack sends others (the
// side channel of "SadDNS", CVE-2020-25705). Linux further randomises the
// global bucket's cost; this one does not.
//
// Per-destination buckets live in a fixed-size, set-associative table
// (destSets sets of destWays entries, indexed by a keyed hash so peers
// cannot aim at one set): when a set is full, the bucket that has refilled
// the most is forgotten. A forgotten destination starts again with a full
// bucket, so under a flood of distinct destinations the per-destination
// limit weakens, while the global one still holds. Nothing is allocated
// after NewRateLimiter.
//
// Linux does not limit messages sent over the loopback device; a caller
// that wants the same skips the limiter for those.
//
// Times passed in should come from one clock (time.Now keeps a monotonic
// reading, which makes the limiter immune to wall-clock steps). A time
// earlier than ones already seen refills nothing. The nil *RateLimiter
// allows everything. A RateLimiter is safe for concurrent use.
type RateLimiter struct {
	interval  int64 // ns per message at the sustained rate; 0: no limit
	tolerance int64 // (burst) * interval

	base atomic.Pointer[time.Time] // time zero: the first time seen
	tat  atomic.Int64              // global bucket, ns since base

	seed maphash.Seed
	mu   sync.Mutex
	dest [destSets][destWays]destBucket
}

const (
	destSets = 128
	destWays = 4
)

// destBucket is the per-destination state.
type destBucket struct {
	addr netip.Addr // invalid: unused
	tat  int64      // ns since base
}

// NewRateLimiter returns a limiter allowing perSecond messages a second
// on average, in bursts of up to burst. A zero perSecond or burst takes
// Linux's default (DefaultPerSecond, DefaultBurst); a negative perSecond
// turns all limiting off (AllowTo's too); a negative burst means 1.
func NewRateLimiter(perSecond int, burst int) *RateLimiter {
	if perSecond == 0 {
		perSecond = DefaultPerSecond
	}
	switch {
	case burst == 0:
		burst = DefaultBurst
	case burst < 0:
		burst = 1
	}
	r := &RateLimiter{seed: maphash.MakeSeed()}
	if perSecond > 0 {
		r.interval = max(int64(time.Second)/int64(perSecond), 1)
		r.tolerance = min(int64(burst), maxSpan/r.interval) * r.interval
	}
	return r
}

// Allow reports whether a message may be sent at now, and if so takes a
// token from the global bucket. It never allocates after its first call.
func (r *RateLimiter) Allow(now time.Time) bool {
	if r == nil || r.interval == 0 {
		return true
	}
	return r.take(r.since(now))
}

// AllowTo reports whether a message to dst may be sent at now: it takes a
// token from dst's bucket (at most one message per DestInterval, bursts
// of DestBurst), and if that succeeds, one from the global bucket. An
// IPv4-mapped address is the IPv4 one; the zero Addr meets only the global
// bucket. It never allocates after its first call.
func (r *RateLimiter) AllowTo(dst netip.Addr, now time.Time) bool {
	if r == nil || r.interval == 0 {
		return true
	}
	t := r.since(now)
	if !r.takeDest(dst, t) {
		return false
	}
	return r.take(t)
}

// since returns now in ns since the limiter's time zero, setting that on
// the first call.
func (r *RateLimiter) since(now time.Time) int64 {
	b := r.base.Load()
	if b == nil {
		p := new(time.Time) // allocated once per limiter, in this branch only
		*p = now
		if !r.base.CompareAndSwap(nil, p) {
			p = r.base.Load()
		}
		b = p
	}
	// Clamp so that the arithmetic of gcra cannot overflow.
	return min(max(int64(now.Sub(*b)), -maxSpan), maxSpan)
}

// maxSpan bounds the times (from the first one seen) and the tolerances
// the limiter computes with, about 36 years, so that gcra's sums of a
// tat, an interval and a negated time stay below 2^63.
const maxSpan = 1 << 60

// take applies the global bucket at t.
func (r *RateLimiter) take(t int64) bool {
	for {
		old := r.tat.Load()
		next, ok := gcra(old, t, r.interval, r.tolerance)
		if !ok {
			return false
		}
		if r.tat.CompareAndSwap(old, next) {
			return true
		}
	}
}

// gcra is one step of the generic cell rate algorithm: a message at t,
// against a bucket whose theoretical arrival time is tat, with the given
// interval per message and tolerance (burst*interval). It returns the new
// tat and whether the message conforms.
func gcra(tat, t, interval, tolerance int64) (int64, bool) {
	next := max(tat, t) + interval // a tat in the past is a full bucket
	if next-t > tolerance {
		return tat, false
	}
	return next, true
}

// takeDest applies dst's bucket at t.
func (r *RateLimiter) takeDest(dst netip.Addr, t int64) bool {
	const interval, tolerance = int64(DestInterval), DestBurst * int64(DestInterval)
	if !dst.IsValid() {
		return true // no destination to key on: only the global bucket
	}
	dst = dst.Unmap()
	a := dst.As16()
	set := &r.dest[maphash.Bytes(r.seed, a[:])%destSets]

	r.mu.Lock()
	defer r.mu.Unlock()
	victim := 0
	for i := range set {
		e := &set[i]
		if e.addr == dst {
			next, ok := gcra(e.tat, t, interval, tolerance)
			e.tat = next
			return ok
		}
		// Prefer an unused entry, then the fullest bucket (oldest tat).
		v := &set[victim]
		if v.addr.IsValid() && (!e.addr.IsValid() || e.tat < v.tat) {
			victim = i
		}
	}
	e := &set[victim]
	e.addr = dst
	e.tat, _ = gcra(t, t, interval, tolerance) // a full bucket, less one token
	return true
}
