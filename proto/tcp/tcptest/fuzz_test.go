package tcptest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stacknet/stacknet/proto/tcp"
)

var fuzzSeeds = []string{
	"0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
	"+0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 7>",
	"+.01 < . 1:1(0) ack 1 win 512 <nop,nop,TS val 110 ecr *>",
	"+.2~+.25 > P. 1:1001(1000) ack 1 // retransmission",
	"* > F. 1001:1001(0) ack 1",
	"0.1~0.2 > . 1:1(0) ack 1 <nop,nop,sack 1001:2001 3001:4001,eol>",
	"0 < none 4294967295:99(100) win 0 <opt 34 0102,opt 200,wscale 255>",
	"0 > SEW 0:0(0) <>",
	"+0 read(100) = -1 EAGAIN (Resource temporarily unavailable)",
	`0 setsockopt(SO_LINGER, {onoff=1, linger=(0)}, "a,b//c\"d") = 0`,
	"0 > . 1:1(0) ack", // malformed
	"0 f([a)]) = 0",    // malformed
	"0.0000000001 > S 0:0(0)",
}

// FuzzParse checks that Parse never panics, that its errors name a line
// of the input, and that every step it accepts formats to a line that
// parses back to the same step; for segments, that they match themselves
// and survive the trip to the wire and back through SegmentOf.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	scripts, _ := filepath.Glob("testdata/*.pkt")
	for _, p := range scripts {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, src string) {
		lines := strings.Count(src, "\n") + 1
		steps, err := Parse(src)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 || e.Line > lines || e.Msg == "" || steps != nil {
				t.Fatalf("Parse(%q) = %d steps, %v: want no steps and an *Error at a line", src, len(steps), err)
			}
			return
		}
		prev := 0
		for _, st := range steps {
			if st.Line <= prev || st.Line > lines {
				t.Fatalf("step at line %d after line %d, of %d lines", st.Line, prev, lines)
			}
			prev = st.Line
			checkStep(t, st)
		}
	})
}

func checkStep(t *testing.T, st Step) {
	line := st.String()
	again, err := Parse(line)
	if err != nil {
		t.Fatalf("line %d formats to %q, which does not parse: %v", st.Line, line, err)
	}
	if len(again) != 1 {
		t.Fatalf("line %d formats to %q, which parses to %d steps", st.Line, line, len(again))
	}
	again[0].Line = st.Line
	if diff := cmp.Diff(st, again[0]); diff != "" {
		t.Fatalf("line %d formats to %q, which parses differently (-first +second):\n%s", st.Line, line, diff)
	}
	if st.Dir == Call {
		return
	}

	want := st.Seg
	resolved := want.ResolveTS(1, 2)
	if err := want.Match(resolved); err != nil {
		t.Fatalf("%q does not match itself with its wildcards filled in: %v", line, err)
	}
	if _, err := resolved.Options(0); err != nil {
		t.Fatalf("%q: Options: %v", line, err)
	}

	// To the wire and back, if it fits in a datagram.
	optLen := (optionsLen(want.Opts) + 3) &^ 3
	if tcp.HeaderLen+optLen+want.Len > tcp.MaxSegment {
		return
	}
	const seqBase, ackBase tcp.Seq = 0xfffffff0, 12345
	h := toWire(t, resolved, seqBase, ackBase)
	got, err := SegmentOf(h, seqBase, ackBase)
	if err != nil {
		t.Fatalf("%q: SegmentOf its wire form: %v", line, err)
	}
	if err := want.Match(got); err != nil {
		t.Fatalf("%q does not match its wire form %q: %v", line, got, err)
	}
	if s := FormatActual(h, seqBase, ackBase); s != got.String() {
		t.Fatalf("FormatActual = %q, SegmentOf gives %q", s, got)
	}
	// What SegmentOf gives is a valid inbound segment, parsing back to itself.
	in, err := Parse("0 < " + got.String())
	if err != nil {
		t.Fatalf("the wire form of %q, %q, does not parse: %v", line, got, err)
	}
	if diff := cmp.Diff(got, in[0].Seg); diff != "" {
		t.Fatalf("the wire form of %q parses differently (-SegmentOf +Parse):\n%s", line, diff)
	}
}
