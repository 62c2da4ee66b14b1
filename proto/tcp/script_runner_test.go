package tcp_test

import (
	"strings"
	"testing"

	"github.com/stacknet/stacknet/proto/tcp/tcptest"
)

// scriptOpen is a passive open that the machine passes, the start of the
// runner's own tests.
const scriptOpen = `
0     listen() = 0
+0    < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
+0    > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 7>
+.1   < . 1:1(0) ack 1 win 502 <nop,nop,TS val 200 ecr *>
+0    accept() = 0
`

// TestScriptRunner checks that the runner fails a script for each kind of
// discrepancy, naming the line, and passes a correct one.
func TestScriptRunner(t *testing.T) {
	tests := []struct {
		name, tail string
		want       string // "" for success, else a part of the error
	}{
		{"correct", "+0 write(10) = 10\n+0 > P. 1:11(10) ack 1\n", ""},
		{"wrong field", "+0 write(10) = 10\n+0 > P. 1:11(10) ack 2\n", "ack: want 2, got 1"},
		{"wrong flags", "+0 write(10) = 10\n+0 > . 1:11(10) ack 1\n", "flags: want ., got P."},
		{"sent before its window", "+0 write(10) = 10\n+.1 > P. 1:11(10) ack 1\n", "sent at 0.1s, expected between 0.2s and 0.2s"},
		{"nothing within the window", "+0 write(10) = 10\n+0 > P. 1:11(10) ack 1\n+.1~+.2 > P. 1:11(10) ack 1\n", "nothing sent between 0.2s and 0.3s"},
		{"unexpected at end", "+0 write(10) = 10\n", "end of script: unexpected segment sent at 0.1s: P. 1:11(10)"},
		{"unexpected before call", "+0 write(10) = 10\n+0 read(10) = -1 EAGAIN\n", "8: +0 read(10) = -1 EAGAIN: unexpected segment"},
		{"timer segment unexpected", "+0 write(10) = 10\n+0 > P. 1:11(10) ack 1\n+1 nothing() = 0\n", "9: +1 nothing() = 0: unexpected segment sent at 0.4s"},
		{"call result", "+0 read(10) = 10\n", "returned -1 EAGAIN"},
		{"tcp_info", "+0 tcp_info(state=CLOSE_WAIT) = 0\n", "tcp_info differs: state=ESTABLISHED"},
		{"unknown call", "+0 frobnicate() = 0\n", `unknown call "frobnicate"`},
		{"time goes back", "+0 write(10) = 10\n+0 > P. 1:11(10) ack 1\n0.05 nothing() = 0\n", "before the current time"},
		{"read checks data", "+0 < P. 1:11(10) ack 1 win 502\n+0~+.04 > . 1:1(0) ack 11\n+0 read(10) = 10\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps, err := tcptest.Parse(scriptOpen + tt.tail)
			if err != nil {
				t.Fatal(err)
			}
			err = runScript(steps)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("runScript: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("runScript passed; want an error with %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("runScript: %v\nwant an error with %q", err, tt.want)
			}
		})
	}
}

// TestReadKnownFailures checks the parsing of KNOWN_FAILURES.md.
func TestReadKnownFailures(t *testing.T) {
	known, err := readKnownFailures("testdata/scripts/KNOWN_FAILURES.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, why := range known {
		if !strings.HasSuffix(name, ".pkt") || why == "" || why == "no diagnosis given" {
			t.Errorf("entry %q: diagnosis %q", name, why)
		}
	}
}
