package tcptest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stacknet/stacknet/proto/tcp"
)

const ms = time.Millisecond

// at is an exact time, absolute or relative.
func at(d time.Duration, rel bool) TimeSpec { return TimeSpec{Relative: rel, Lo: d, Hi: d} }

func ts(val, ecr uint32) Option { return Option{Kind: tcp.OptTimestamps, TSVal: val, TSEcr: ecr} }

var (
	nop    = Option{Kind: tcp.OptNOP}
	eol    = Option{Kind: tcp.OptEOL}
	sackOK = Option{Kind: tcp.OptSACKPermitted}
)

func mss(n uint16) Option   { return Option{Kind: tcp.OptMSS, MSS: n} }
func wscale(n uint8) Option { return Option{Kind: tcp.OptWScale, WScale: n} }
func sack(b ...tcp.Seq) Option {
	o := Option{Kind: tcp.OptSACK}
	for i := 0; i+1 < len(b); i += 2 {
		o.SACK = append(o.SACK, tcp.SACKBlock{Start: b[i], End: b[i+1]})
	}
	return o
}

// TestParseLine covers every construct with one line each: the step it
// parses to, the line String writes back, and that this parses to the
// same step again.
func TestParseLine(t *testing.T) {
	tests := []struct {
		name, line string
		want       Step
		out        string // Step.String(), when it differs from line
	}{
		{
			name: "inbound SYN with Linux's options",
			line: "0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
			want: Step{Dir: In, Seg: Segment{Flags: tcp.SYN, HasWin: true, Win: 65535, OptsGiven: true,
				Opts: []Option{mss(1460), sackOK, ts(100, 0), nop, wscale(7)}}},
		},
		{
			name: "outbound SYN-ACK with a TS wildcard, no win",
			line: "+0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 7>",
			want: Step{Time: at(0, true), Dir: Out, Seg: Segment{Flags: tcp.SYN | tcp.ACK, Ack: 1, HasAck: true, OptsGiven: true,
				Opts: []Option{mss(1460), sackOK, {Kind: tcp.OptTimestamps, TSValAny: true, TSEcr: 100}, nop, wscale(7)}}},
		},
		{
			name: "inbound ACK echoing with ecr *",
			line: "+.01  < . 1:1(0) ack 1 win 512 <nop,nop,TS val 110 ecr *>",
			want: Step{Time: at(10*ms, true), Dir: In, Seg: Segment{Flags: tcp.ACK, Seq: 1, Ack: 1, HasAck: true, Win: 512, HasWin: true,
				OptsGiven: true, Opts: []Option{nop, nop, {Kind: tcp.OptTimestamps, TSVal: 110, TSEcrAny: true}}}},
			out: "+0.01 < . 1:1(0) ack 1 win 512 <nop,nop,TS val 110 ecr *>",
		},
		{
			name: "data, options absent",
			line: "0.2 > P. 1:1001(1000) ack 1",
			want: Step{Time: at(200*ms, false), Dir: Out, Seg: Segment{Flags: tcp.PSH | tcp.ACK, Seq: 1, Len: 1000, Ack: 1, HasAck: true}},
		},
		{
			name: "empty options",
			line: "0 > . 1:1(0) ack 1 <>",
			want: Step{Dir: Out, Seg: Segment{Flags: tcp.ACK, Seq: 1, Ack: 1, HasAck: true, OptsGiven: true}},
		},
		{
			name: "relative time range",
			line: "+.2~+.25 > P. 1:1001(1000) ack 1",
			want: Step{Time: TimeSpec{Relative: true, Lo: 200 * ms, Hi: 250 * ms}, Dir: Out,
				Seg: Segment{Flags: tcp.PSH | tcp.ACK, Seq: 1, Len: 1000, Ack: 1, HasAck: true}},
			out: "+0.2~+0.25 > P. 1:1001(1000) ack 1",
		},
		{
			name: "absolute time range",
			line: "1.1~1.3 > . 1:1(0)",
			want: Step{Time: TimeSpec{Lo: 1100 * ms, Hi: 1300 * ms}, Dir: Out, Seg: Segment{Flags: tcp.ACK, Seq: 1}},
		},
		{
			name: "any time, FIN",
			line: "* > F. 1001:1001(0) ack 1",
			want: Step{Time: TimeSpec{Any: true}, Dir: Out, Seg: Segment{Flags: tcp.FIN | tcp.ACK, Seq: 1001, Ack: 1, HasAck: true}},
		},
		{
			name: "FIN PSH ACK, flags in another order",
			line: "0 > .PF 1:11(10) ack 1",
			want: Step{Dir: Out, Seg: Segment{Flags: tcp.FIN | tcp.PSH | tcp.ACK, Seq: 1, Len: 10, Ack: 1, HasAck: true}},
			out:  "0 > FP. 1:11(10) ack 1",
		},
		{
			name: "RST without ACK",
			line: "0 < R 1:1(0) win 0",
			want: Step{Dir: In, Seg: Segment{Flags: tcp.RST, Seq: 1, HasWin: true}},
		},
		{
			name: "RST ACK",
			line: "+1 < R. 1:1(0) ack 1001 win 0",
			want: Step{Time: at(time.Second, true), Dir: In, Seg: Segment{Flags: tcp.RST | tcp.ACK, Seq: 1, Ack: 1001, HasAck: true, HasWin: true}},
		},
		{
			name: "ECN setup SYN",
			line: "0 < SEW 0:0(0) win 65535",
			want: Step{Dir: In, Seg: Segment{Flags: tcp.SYN | tcp.ECE | tcp.CWR, Win: 65535, HasWin: true}},
		},
		{
			name: "ECN SYN-ACK",
			line: "0 > S.E 0:0(0) ack 1",
			want: Step{Dir: Out, Seg: Segment{Flags: tcp.SYN | tcp.ACK | tcp.ECE, Ack: 1, HasAck: true}},
		},
		{
			name: "urgent",
			line: "0 < P.U 1:2(1) ack 1 win 10",
			want: Step{Dir: In, Seg: Segment{Flags: tcp.PSH | tcp.ACK | tcp.URG, Seq: 1, Len: 1, Ack: 1, HasAck: true, Win: 10, HasWin: true}},
		},
		{
			name: "no flags",
			line: "0 < none 1:1(0) win 100",
			want: Step{Dir: In, Seg: Segment{Seq: 1, Win: 100, HasWin: true}},
		},
		{
			name: "SACK blocks and eol",
			line: "0 > . 1:1(0) ack 1 <nop,nop,sack 1001:2001 3001:4001 5001:6001,eol>",
			want: Step{Dir: Out, Seg: Segment{Flags: tcp.ACK, Seq: 1, Ack: 1, HasAck: true, OptsGiven: true,
				Opts: []Option{nop, nop, sack(1001, 2001, 3001, 4001, 5001, 6001), eol}}},
		},
		{
			name: "four SACK blocks",
			line: "0 > . 1:1(0) <sack 1:2 3:4 5:6 7:8>",
			want: Step{Dir: Out, Seg: Segment{Flags: tcp.ACK, Seq: 1, OptsGiven: true, Opts: []Option{sack(1, 2, 3, 4, 5, 6, 7, 8)}}},
		},
		{
			name: "raw options, with and without data",
			line: "0 < S 0:0(0) win 1 <opt 34 0A0b0c0d0e0f1011,opt 254,nop>",
			want: Step{Dir: In, Seg: Segment{Flags: tcp.SYN, Win: 1, HasWin: true, OptsGiven: true, Opts: []Option{
				{Kind: tcp.OptFastOpen, Data: []byte{10, 11, 12, 13, 14, 15, 16, 17}}, {Kind: 254}, nop}}},
			out: "0 < S 0:0(0) win 1 <opt 34 0a0b0c0d0e0f1011,opt 254,nop>",
		},
		{
			name: "wscale beyond 14, largest values",
			line: "0 < S 4294967295:4294967295(0) win 65535 <mss 65535,wscale 255,TS val 4294967295 ecr 4294967295>",
			want: Step{Dir: In, Seg: Segment{Flags: tcp.SYN, Seq: 4294967295, Win: 65535, HasWin: true, OptsGiven: true,
				Opts: []Option{mss(65535), wscale(255), ts(4294967295, 4294967295)}}},
		},
		{
			name: "sequence numbers wrap",
			line: "0 > . 4294967196:900(1000) ack 0",
			want: Step{Dir: Out, Seg: Segment{Flags: tcp.ACK, Seq: 4294967196, Len: 1000, HasAck: true}},
		},
		{
			name: "loose spacing and a comment",
			line: "\t+0\t>  S.  0 : 0 ( 0 )  ack  1  <  mss 1460 , nop  >   // comment <not> options",
			want: Step{Time: at(0, true), Dir: Out, Seg: Segment{Flags: tcp.SYN | tcp.ACK, Ack: 1, HasAck: true, OptsGiven: true,
				Opts: []Option{mss(1460), nop}}},
			out: "+0 > S. 0:0(0) ack 1 <mss 1460,nop>",
		},
		{
			name: "no space after the direction",
			line: "0 <S 0:0(0) win 1",
			want: Step{Dir: In, Seg: Segment{Flags: tcp.SYN, Win: 1, HasWin: true}},
			out:  "0 < S 0:0(0) win 1",
		},
		{
			name: "call without arguments",
			line: "+0 accept() = 0",
			want: Step{Time: at(0, true), Dir: Call, Call: "accept"},
		},
		{
			name: "call with an argument",
			line: "+0 write(1000) = 1000",
			want: Step{Time: at(0, true), Dir: Call, Call: "write", Args: []string{"1000"}, Result: 1000},
		},
		{
			name: "call failing with errno and strace text",
			line: "+0 read(100) = -1 EAGAIN (Resource temporarily unavailable)",
			want: Step{Time: at(0, true), Dir: Call, Call: "read", Args: []string{"100"}, Result: -1, Errno: "EAGAIN"},
			out:  "+0 read(100) = -1 EAGAIN",
		},
		{
			name: "call with nested arguments",
			line: "0 getsockopt( SOL_SOCKET , SO_ERROR, [ECONNREFUSED], [4] ) = 0",
			want: Step{Dir: Call, Call: "getsockopt", Args: []string{"SOL_SOCKET", "SO_ERROR", "[ECONNREFUSED]", "[4]"}},
			out:  "0 getsockopt(SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0",
		},
		{
			name: "call with brackets, braces and a string holding commas and //",
			line: `0 setsockopt(SO_LINGER, {onoff=1, linger=(0)}, "a,b//c\"d", f(x, y)) = 0 // done`,
			want: Step{Dir: Call, Call: "setsockopt", Args: []string{"SO_LINGER", "{onoff=1, linger=(0)}", `"a,b//c\"d"`, "f(x, y)"}},
			out:  `0 setsockopt(SO_LINGER, {onoff=1, linger=(0)}, "a,b//c\"d", f(x, y)) = 0`,
		},
		{
			name: "negative result other than -1",
			line: "0 odd() = -5",
			want: Step{Dir: Call, Call: "odd", Result: -5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps, err := Parse(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.Line = 1
			if diff := cmp.Diff([]Step{want}, steps); diff != "" {
				t.Fatalf("Parse(%q) (-want +got):\n%s", tt.line, diff)
			}
			out := tt.out
			if out == "" {
				out = tt.line
			}
			if s := steps[0].String(); s != out {
				t.Errorf("String() = %q, want %q", s, out)
			}
			again, err := Parse(steps[0].String())
			if err != nil {
				t.Fatalf("reparsing %q: %v", steps[0].String(), err)
			}
			if diff := cmp.Diff(steps, again); diff != "" {
				t.Errorf("round trip (-first +second):\n%s", diff)
			}
		})
	}
}

func TestParseScript(t *testing.T) {
	src := "// A comment line.\r\n" +
		"\n" +
		"0 listen() = 0\n" +
		"   // indented comment\n" +
		"\t\n" +
		"+0 < S 0:0(0) win 100 // trailing comment\r\n" +
		"+0 > S. 0:0(0) ack 1"
	steps, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{Line: 3, Dir: Call, Call: "listen"},
		{Line: 6, Time: at(0, true), Dir: In, Seg: Segment{Flags: tcp.SYN, Win: 100, HasWin: true}},
		{Line: 7, Time: at(0, true), Dir: Out, Seg: Segment{Flags: tcp.SYN | tcp.ACK, Ack: 1, HasAck: true}},
	}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	for _, empty := range []string{"", "\n\n", "// only a comment", "  \t\r\n//x\n"} {
		steps, err := Parse(empty)
		if err != nil || steps != nil {
			t.Errorf("Parse(%q) = %v, %v; want no steps, no error", empty, steps, err)
		}
	}
}

// TestExampleScripts parses the example scripts in testdata, for the
// runner to come, and checks each opens as it should.
func TestExampleScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.pkt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d example scripts, want at least 3", len(files))
	}
	for _, f := range files {
		steps, err := ParseFile(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(steps) < 5 {
			t.Errorf("%s: %d steps, want a real script", f, len(steps))
		}
		for _, st := range steps {
			again, err := Parse(st.String())
			if err != nil {
				t.Errorf("%s:%d: reparsing %q: %v", f, st.Line, st.String(), err)
				continue
			}
			again[0].Line = st.Line
			if diff := cmp.Diff(st, again[0]); diff != "" {
				t.Errorf("%s:%d: round trip (-first +second):\n%s", f, st.Line, diff)
			}
		}
	}
}

func TestParseFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.pkt")
	if err := os.WriteFile(path, []byte("0 listen() = 0\n\n+0 < S 0:0(0)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ParseFile(path)
	var e *Error
	if !errors.As(err, &e) || e.File != path || e.Line != 3 {
		t.Fatalf("ParseFile: %v, want an *Error at %s:3", err, path)
	}
	if want := path + ":3: an inbound segment needs \"win N\""; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	if _, err := ParseFile(filepath.Join(dir, "missing.pkt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ParseFile of a missing file: %v, want os.ErrNotExist", err)
	}
}

func TestDirString(t *testing.T) {
	for d, want := range map[Dir]string{In: "<", Out: ">", Call: "call", 0: "Dir(0)", 9: "Dir(9)"} {
		if got := d.String(); got != want {
			t.Errorf("Dir(%d).String() = %q, want %q", d, got, want)
		}
	}
}
