package tcptest

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// TimeSpec is when a step happens, as its time column says.
//
//	0.1        absolute, exact:    {Lo: 100ms, Hi: 100ms}
//	+.01       relative, exact:    {Relative: true, Lo: 10ms, Hi: 10ms}
//	0.1~0.2    absolute range:     {Lo: 100ms, Hi: 200ms}
//	+.2~+.25   relative range:     {Relative: true, Lo: 200ms, Hi: 250ms}
//	*          any time:           {Any: true}
//
// Absolute times count from the start of the script; relative times from
// the time the previous step happened (for an outbound step, the time the
// segment was actually sent).
type TimeSpec struct {
	Any      bool          // "*": whenever it happens; Lo and Hi are zero
	Relative bool          // "+": Lo and Hi count from the previous step
	Lo, Hi   time.Duration // the earliest and latest time; Lo == Hi for an exact time
}

// Window returns the earliest and the latest time the step may happen
// at, given the time prev at which the previous step happened (0 before
// the first). A relative time is added to prev, saturating at the largest
// Duration; "*" allows any time from prev on. An absolute time is
// returned as written, even when it lies before prev: whether that is an
// error is the runner's to decide.
func (t TimeSpec) Window(prev time.Duration) (lo, hi time.Duration) {
	switch {
	case t.Any:
		return prev, math.MaxInt64
	case t.Relative:
		return addSat(prev, t.Lo), addSat(prev, t.Hi)
	}
	return t.Lo, t.Hi
}

// addSat returns a + b for b >= 0, or the largest Duration if that
// overflows.
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// String writes the time in the script notation, with the fewest digits
// that say it exactly: "0.1", "+0.01", "0.1~0.2", "+0.2~+0.25", "*".
func (t TimeSpec) String() string {
	if t.Any {
		return "*"
	}
	one := func(d time.Duration) string {
		s := formatSeconds(d)
		if t.Relative {
			return "+" + s
		}
		return s
	}
	if t.Lo == t.Hi {
		return one(t.Lo)
	}
	return one(t.Lo) + "~" + one(t.Hi)
}

// parseTime parses the time column.
func parseTime(s string) (TimeSpec, error) {
	if s == "*" {
		return TimeSpec{Any: true}, nil
	}
	loS, hiS, isRange := strings.Cut(s, "~")
	lo, relLo, err := parseInstant(loS)
	if err != nil {
		return TimeSpec{}, err
	}
	if !isRange {
		return TimeSpec{Relative: relLo, Lo: lo, Hi: lo}, nil
	}
	hi, relHi, err := parseInstant(hiS)
	if err != nil {
		return TimeSpec{}, err
	}
	if relLo != relHi {
		return TimeSpec{}, errors.New("both ends of a time range must be relative (\"+.1~+.2\") or both absolute (\"0.1~0.2\")")
	}
	if hi < lo {
		return TimeSpec{}, errors.New("time range ends (" + formatSeconds(hi) + ") before it starts (" + formatSeconds(lo) + ")")
	}
	return TimeSpec{Relative: relLo, Lo: lo, Hi: hi}, nil
}

// parseInstant parses one end of a time: seconds, with a "+" in front
// when relative.
func parseInstant(s string) (d time.Duration, relative bool, err error) {
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		s, relative = rest, true
	}
	d, err = parseSeconds(s)
	return d, relative, err
}

// parseSeconds parses a non-negative decimal number of seconds, "1",
// "0.25", ".001", into a Duration exactly: the digits are read as
// integers, never through a float, so ".1" is exactly 100 ms. At most nine
// digits after the point (nanoseconds).
func parseSeconds(s string) (time.Duration, error) {
	bad := func(why string) (time.Duration, error) {
		return 0, errors.New("bad time " + strconv.Quote(s) + ": " + why)
	}
	if s == "" {
		return bad("expected seconds, such as 0.1 or +.01")
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if hasPoint && frac == "" {
		return bad("expected digits after '.'")
	}
	if intPart == "" && !hasPoint {
		return bad("expected digits")
	}
	const maxSecs = math.MaxInt64 / int64(time.Second)
	var secs int64
	for i := 0; i < len(intPart); i++ {
		c := intPart[i]
		if c < '0' || c > '9' {
			return bad("expected digits, '.', '+' or '~', found " + strconv.QuoteRune(rune(c)))
		}
		secs = secs*10 + int64(c-'0')
		if secs > maxSecs {
			return bad("too large")
		}
	}
	if len(frac) > 9 {
		return bad("more than nine digits after the point (nanoseconds)")
	}
	var ns int64
	for i := range 9 {
		ns *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return bad("expected digits after '.', found " + strconv.QuoteRune(rune(c)))
			}
			ns += int64(c - '0')
		}
	}
	if secs == maxSecs && ns > math.MaxInt64-secs*int64(time.Second) {
		return bad("too large")
	}
	return time.Duration(secs*int64(time.Second) + ns), nil
}

// formatSeconds writes a Duration as seconds with no trailing zeros after
// the point: "0", "0.1", "2.000001". A negative Duration, which the
// parser never makes, gets a "-" that it does not accept.
func formatSeconds(d time.Duration) string {
	sign, u := "", uint64(d)
	if d < 0 {
		sign, u = "-", -u
	}
	secs, ns := u/uint64(time.Second), u%uint64(time.Second)
	s := sign + strconv.FormatUint(secs, 10)
	if ns == 0 {
		return s
	}
	f := strconv.FormatUint(ns+uint64(time.Second), 10)[1:] // nine digits, leading zeros kept
	return s + "." + strings.TrimRight(f, "0")
}
