package tcptest

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want TimeSpec
		out  string // String(), when it differs from in
	}{
		{"0", TimeSpec{}, ""},
		{"*", TimeSpec{Any: true}, ""},
		{"1", TimeSpec{Lo: time.Second, Hi: time.Second}, ""},
		{"0.100", TimeSpec{Lo: 100 * time.Millisecond, Hi: 100 * time.Millisecond}, "0.1"},
		{"+.1", TimeSpec{Relative: true, Lo: 100 * time.Millisecond, Hi: 100 * time.Millisecond}, "+0.1"},
		{"+.01", TimeSpec{Relative: true, Lo: 10 * time.Millisecond, Hi: 10 * time.Millisecond}, "+0.01"},
		{"+0", TimeSpec{Relative: true}, ""},
		{"0.000001", TimeSpec{Lo: time.Microsecond, Hi: time.Microsecond}, ""},
		{"0.000000001", TimeSpec{Lo: 1, Hi: 1}, ""},
		{"2.000001", TimeSpec{Lo: 2*time.Second + time.Microsecond, Hi: 2*time.Second + time.Microsecond}, ""},
		// 0.3 is not a float64 sum of 0.1s: parsed as a decimal, exactly.
		{"0.3", TimeSpec{Lo: 300 * time.Millisecond, Hi: 300 * time.Millisecond}, ""},
		{"1.123456789", TimeSpec{Lo: 1123456789, Hi: 1123456789}, ""},
		{"0.1~0.2", TimeSpec{Lo: 100 * time.Millisecond, Hi: 200 * time.Millisecond}, ""},
		{"+.2~+.25", TimeSpec{Relative: true, Lo: 200 * time.Millisecond, Hi: 250 * time.Millisecond}, "+0.2~+0.25"},
		{"0.5~0.5", TimeSpec{Lo: 500 * time.Millisecond, Hi: 500 * time.Millisecond}, "0.5"},
		{"007", TimeSpec{Lo: 7 * time.Second, Hi: 7 * time.Second}, "7"},
		{"9223372036.854775807", TimeSpec{Lo: math.MaxInt64, Hi: math.MaxInt64}, ""},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in)
		if err != nil {
			t.Errorf("parseTime(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("parseTime(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		out := tt.out
		if out == "" {
			out = tt.in
		}
		if s := got.String(); s != out {
			t.Errorf("parseTime(%q).String() = %q, want %q", tt.in, s, out)
		}
		if again, err := parseTime(got.String()); err != nil || again != got {
			t.Errorf("parseTime(%q) round trip: %+v, %v", got.String(), again, err)
		}
	}
}

func TestParseTimeErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"", "expected seconds"},
		{"+", "expected seconds"},
		{".", "expected digits after '.'"},
		{"1.", "expected digits after '.'"},
		{"1.2.3", "expected digits after '.'"},
		{"-1", "found '-'"},
		{"1s", "found 's'"},
		{"0.1234567891", "more than nine digits"},
		{"9223372036.854775808", "too large"},
		{"99999999999", "too large"},
		{"0.2~0.1", "ends (0.1) before it starts (0.2)"},
		{"+.1~.2", "both ends"},
		{".1~+.2", "both ends"},
		{"0.1~", "expected seconds"},
		{"~1", "expected seconds"},
		{"1~2~3", "found '~'"},
		{"**", "found '*'"},
		{"+*", "found '*'"},
		{"++1", "found '+'"},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in)
		if err == nil {
			t.Errorf("parseTime(%q) = %+v, want an error", tt.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("parseTime(%q): %q, want it to say %q", tt.in, err, tt.msg)
		}
	}
}

func TestTimeWindow(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		spec   string
		prev   time.Duration
		lo, hi time.Duration
	}{
		{"0.5", 0, 500 * ms, 500 * ms},
		{"0.5", 700 * ms, 500 * ms, 500 * ms}, // absolute: as written
		{"0.1~0.2", 50 * ms, 100 * ms, 200 * ms},
		{"+.01", 300 * ms, 310 * ms, 310 * ms},
		{"+.2~+.25", time.Second, 1200 * ms, 1250 * ms},
		{"*", 42 * ms, 42 * ms, math.MaxInt64},
		{"+1", math.MaxInt64 - 1, math.MaxInt64, math.MaxInt64}, // saturates
	}
	for _, tt := range tests {
		ts, err := parseTime(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := ts.Window(tt.prev)
		if lo != tt.lo || hi != tt.hi {
			t.Errorf("%q.Window(%v) = %v, %v; want %v, %v", tt.spec, tt.prev, lo, hi, tt.lo, tt.hi)
		}
	}
}

func TestFormatSecondsNegative(t *testing.T) {
	// The parser never makes one, but String must not misprint a
	// hand-built TimeSpec either.
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second / 2, "-0.5"},
		{math.MinInt64, "-9223372036.854775808"},
	}
	for _, tt := range tests {
		if got := formatSeconds(tt.d); got != tt.want {
			t.Errorf("formatSeconds(%d) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
