package tcp

// Seq is a TCP sequence number (RFC 9293 3.4): a 32-bit number that counts
// octets modulo 2^32, so that the space wraps from 0xffffffff to 0.
//
// Sequence numbers are compared with serial number arithmetic (RFC 1982),
// never with Go's < on the raw values: a is less than b when b lies less
// than 2^31 ahead of a around the circle. At a distance of exactly 2^31 the
// order is undefined by RFC 1982 section 3.2; here neither number is less
// than the other (Linux's before() has each before the other), so LessThan is antisymmetric everywhere but the
// trichotomy (exactly one of a < b, a == b, a > b) fails for those pairs
// alone. TCP never compares numbers that far apart: a window is at most
// 2^30 octets (RFC 7323 2.3) and segments older than that are rejected as
// outside it.
type Seq uint32

// Add returns s advanced by n octets, modulo 2^32. A negative n moves s
// back: s.Add(-1) is the number before s.
func (s Seq) Add(n int) Seq { return s + Seq(uint32(n)) }

// Diff is the signed distance from b to s, s - b modulo 2^32 read as an
// int32: positive when s is after b, negative when it is before. At a
// distance of exactly 2^31 it is -2^31, whichever way round.
func (s Seq) Diff(b Seq) int32 { return int32(s - b) }

// LessThan reports whether s comes before b (RFC 1982 3.2: s < b when
// 0 < b - s < 2^31, modulo 2^32).
func (s Seq) LessThan(b Seq) bool { return int32(b-s) > 0 }

// LessEq reports whether s == b or s comes before b.
func (s Seq) LessEq(b Seq) bool { return s == b || s.LessThan(b) }

// GreaterThan reports whether s comes after b.
func (s Seq) GreaterThan(b Seq) bool { return b.LessThan(s) }

// GreaterEq reports whether s == b or s comes after b.
func (s Seq) GreaterEq(b Seq) bool { return s == b || b.LessThan(s) }

// InRange reports whether lo <= s < hi, going forward from lo around the
// circle: s is one of the hi - lo numbers starting at lo. It is false for
// every s when lo == hi. The RFC 9293 3.4 tests with an open or closed end
// are written with Add, as in "SND.UNA < SEG.ACK =< SND.NXT":
// ack.InRange(una.Add(1), nxt.Add(1)).
func (s Seq) InRange(lo, hi Seq) bool { return uint32(s-lo) < uint32(hi-lo) }

// InWindow reports whether start <= s < start + size, modulo 2^32: s is one
// of the size numbers starting at start (RFC 9293 3.10.7.4: "RCV.NXT =<
// SEG.SEQ < RCV.NXT+RCV.WND"). It is false for every s when size is 0.
func (s Seq) InWindow(start Seq, size uint32) bool { return uint32(s-start) < size }

// Max returns the later of s and b. For two numbers 2^31 apart, neither
// later, it returns s, and Min returns b: the pair is always {s, b}.
func (s Seq) Max(b Seq) Seq {
	if s.LessThan(b) {
		return b
	}
	return s
}

// Min returns the earlier of s and b (b for two numbers 2^31 apart).
func (s Seq) Min(b Seq) Seq {
	if s.LessThan(b) {
		return s
	}
	return b
}
