package tcptest

import (
	"errors"
	"testing"
)

// seg parses one segment line, "< ..." or "> ...", at time 0.
func seg(t *testing.T, line string) Segment {
	t.Helper()
	steps, err := Parse("0 " + line)
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return steps[0].Seg
}

func TestMatch(t *testing.T) {
	// got is written inbound, so that every field is given, as SegmentOf
	// gives them.
	tests := []struct {
		name, want, got string
		field           string // "" for a match
		wantV, gotV     string
	}{
		{"equal", "> S. 0:0(0) ack 1 win 65535 <mss 1460>", "< S. 0:0(0) ack 1 win 65535 <mss 1460>", "", "", ""},
		{"win and options don't care", "> P. 1:1001(1000) ack 1", "< P. 1:1001(1000) ack 1 win 9 <nop,nop,TS val 5 ecr 6>", "", "", ""},
		{"ack don't care", "> . 1:1(0)", "< . 1:1(0) ack 77 win 9", "", "", ""},
		{"flags exact: missing PSH", "> P. 1:11(10) ack 1", "< . 1:11(10) ack 1 win 1", "flags", "P.", "."},
		{"flags exact: extra ECE", "> S. 0:0(0) ack 1", "< S.E 0:0(0) ack 1 win 1", "flags", "S.", "S.E"},
		{"flags exact: RST without ACK", "> R 1:1(0)", "< R. 1:1(0) ack 1 win 0", "flags", "R", "R."},
		{"seq", "> . 1:1(0) ack 1", "< . 2:2(0) ack 1 win 1", "seq", "1", "2"},
		{"len", "> P. 1:1001(1000) ack 1", "< P. 1:501(500) ack 1 win 1", "len", "1000", "500"},
		{"ack", "> . 1:1(0) ack 1001", "< . 1:1(0) ack 1 win 1", "ack", "1001", "1"},
		{"win", "> . 1:1(0) ack 1 win 512", "< . 1:1(0) ack 1 win 511", "win", "512", "511"},
		{"no options wanted", "> . 1:1(0) ack 1 <>", "< . 1:1(0) ack 1 win 1 <nop,nop,TS val 1 ecr 2>", "options", "<>", "<nop,nop,TS val 1 ecr 2>"},
		{"no options wanted, none sent", "> . 1:1(0) ack 1 <>", "< . 1:1(0) ack 1 win 1", "", "", ""},
		{"options wanted, none sent", "> . 1:1(0) <nop,nop,TS val * ecr *>", "< . 1:1(0) ack 1 win 1", "options", "<nop,nop,TS val * ecr *>", "<>"},
		{"option order matters", "> S. 0:0(0) <mss 1460,sackOK,TS val * ecr 1,nop,wscale 7>",
			"< S. 0:0(0) ack 1 win 1 <mss 1460,nop,nop,TS val 9 ecr 1,sackOK,nop,wscale 7>", "option 2", `"sackOK"`, `"nop"`},
		{"NOPs count", "> . 1:1(0) <nop,nop,TS val * ecr *>", "< . 1:1(0) ack 1 win 1 <nop,TS val 1 ecr 2>",
			"option 2", `"nop"`, `"TS val 1 ecr 2"`},
		{"missing option at the end", "> S. 0:0(0) <mss 1460,nop,wscale 7>", "< S. 0:0(0) ack 1 win 1 <mss 1460,nop>",
			"options", "<mss 1460,nop,wscale 7>", "<mss 1460,nop>"},
		{"extra option at the end", "> S. 0:0(0) <mss 1460>", "< S. 0:0(0) ack 1 win 1 <mss 1460,nop,wscale 7>",
			"options", "<mss 1460>", "<mss 1460,nop,wscale 7>"},
		{"TS val wildcard", "> . 1:1(0) <TS val * ecr 100>", "< . 1:1(0) ack 1 win 1 <TS val 123456 ecr 100>", "", "", ""},
		{"TS ecr checked", "> . 1:1(0) <TS val * ecr 100>", "< . 1:1(0) ack 1 win 1 <TS val 123456 ecr 99>",
			"option 1", `"TS val * ecr 100"`, `"TS val 123456 ecr 99"`},
		{"TS ecr wildcard", "> . 1:1(0) <TS val 5 ecr *>", "< . 1:1(0) ack 1 win 1 <TS val 5 ecr 7>", "", "", ""},
		{"TS val checked", "> . 1:1(0) <TS val 5 ecr *>", "< . 1:1(0) ack 1 win 1 <TS val 6 ecr 7>",
			"option 1", `"TS val 5 ecr *"`, `"TS val 6 ecr 7"`},
		{"both TS wildcards", "> . 1:1(0) <TS val * ecr *>", "< . 1:1(0) ack 1 win 1 <TS val 0 ecr 4294967295>", "", "", ""},
		{"a wildcard in got means nothing", "> . 1:1(0) <TS val 5 ecr 6>", "< . 1:1(0) ack 1 win 1 <TS val * ecr 6>",
			"option 1", `"TS val 5 ecr 6"`, `"TS val * ecr 6"`},
		{"mss", "> S. 0:0(0) <mss 1460>", "< S. 0:0(0) ack 1 win 1 <mss 536>", "option 1", `"mss 1460"`, `"mss 536"`},
		{"wscale", "> S. 0:0(0) <wscale 7>", "< S. 0:0(0) ack 1 win 1 <wscale 8>", "option 1", `"wscale 7"`, `"wscale 8"`},
		{"sack blocks", "> . 1:1(0) <sack 1:2 3:4>", "< . 1:1(0) ack 1 win 1 <sack 1:2 3:4>", "", "", ""},
		{"sack block order", "> . 1:1(0) <sack 1:2 3:4>", "< . 1:1(0) ack 1 win 1 <sack 3:4 1:2>", "option 1", `"sack 1:2 3:4"`, `"sack 3:4 1:2"`},
		{"sack block count", "> . 1:1(0) <sack 1:2 3:4>", "< . 1:1(0) ack 1 win 1 <sack 1:2>", "option 1", `"sack 1:2 3:4"`, `"sack 1:2"`},
		{"raw data", "> . 1:1(0) <opt 34 0102>", "< . 1:1(0) ack 1 win 1 <opt 34 0103>", "option 1", `"opt 34 0102"`, `"opt 34 0103"`},
		{"raw kind", "> . 1:1(0) <opt 34>", "< . 1:1(0) ack 1 win 1 <opt 35>", "option 1", `"opt 34"`, `"opt 35"`},
		{"raw empty", "> . 1:1(0) <opt 34>", "< . 1:1(0) ack 1 win 1 <opt 34>", "", "", ""},
		{"trailing eol in got is padding", "> S. 0:0(0) <mss 1460,nop,wscale 7>", "< S. 0:0(0) ack 1 win 1 <mss 1460,nop,wscale 7,eol>", "", "", ""},
		{"trailing eol in want is padding", "> S. 0:0(0) <mss 1460,eol>", "< S. 0:0(0) ack 1 win 1 <mss 1460>", "", "", ""},
		{"eol is not nop", "> S. 0:0(0) <mss 1460,nop>", "< S. 0:0(0) ack 1 win 1 <mss 1460,eol>", "options", "<mss 1460,nop>", "<mss 1460,eol>"},
		{"flags checked before everything", "> S 5:5(0) <mss 1>", "< R 6:7(1) win 1 <mss 2>", "flags", "S", "R"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, got := seg(t, tt.want), seg(t, tt.got)
			err := want.Match(got)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("%q.Match(%q): %v, want a match", tt.want, tt.got, err)
				}
				return
			}
			var m *Mismatch
			if !errors.As(err, &m) {
				t.Fatalf("%q.Match(%q) = %v, want a *Mismatch", tt.want, tt.got, err)
			}
			if *m != (Mismatch{tt.field, tt.wantV, tt.gotV}) {
				t.Errorf("%q.Match(%q) = %+v, want {%s %s %s}", tt.want, tt.got, *m, tt.field, tt.wantV, tt.gotV)
			}
		})
	}
}

func TestMatchMissingFields(t *testing.T) {
	// A got built by hand may lack fields want has.
	want := seg(t, "> . 1:1(0) ack 1 win 5")
	got := Segment{Flags: want.Flags, Seq: 1}
	if err := want.Match(got); err == nil || err.Error() != "ack: want 1, got none" {
		t.Errorf("Match = %v, want ack: want 1, got none", err)
	}
	got.HasAck, got.Ack = true, 1
	if err := want.Match(got); err == nil || err.Error() != "win: want 5, got none" {
		t.Errorf("Match = %v, want win: want 5, got none", err)
	}
	got.HasWin, got.Win = true, 5
	if err := want.Match(got); err != nil {
		t.Errorf("Match = %v, want a match", err)
	}
}

// TestMatchSelf checks that every expectation in the example scripts
// matches itself with its wildcards filled in.
func TestMatchSelf(t *testing.T) {
	for _, f := range []string{"testdata/passive-open.pkt", "testdata/active-open-refused.pkt", "testdata/retransmit-backoff.pkt"} {
		steps, err := ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range steps {
			if st.Dir == Call {
				continue
			}
			if err := st.Seg.Match(st.Seg.ResolveTS(12345, 67890)); err != nil {
				t.Errorf("%s:%d: %v", f, st.Line, err)
			}
		}
	}
}
