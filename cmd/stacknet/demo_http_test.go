package main

import (
	"strings"
	"testing"
)

// TestDemoHTTP: the demo's HTTP step fetches a page and echoes a POST
// over one kept-alive connection, on a clean wire and on a lossy one
// (where TCP retransmits what the wire drops), and the counters printed
// after it include TCP's.
func TestDemoHTTP(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"clean", []string{"demo"}},
		{"lossy", []string{"demo", "--loss", "0.05", "--seed", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runArgs(t, tc.args...)
			if code != exitOK {
				t.Fatalf("%v exited %d; stderr:\n%s\nstdout:\n%s", tc.args, code, errOut, out)
			}
			if errOut != "" {
				t.Errorf("%v wrote to stderr:\n%s", tc.args, errOut)
			}
			_, step, ok := strings.Cut(out, "HTTP over TCP")
			if !ok {
				t.Fatalf("no HTTP step in:\n%s", out)
			}
			step, stats, _ := strings.Cut(step, "Counters, as netstat -s shows them")
			wantContains(t, "the HTTP step", step,
				"B: http.Server listening on 0.0.0.0:80\n",
				"A: GET http://192.0.2.2/hello\n",
				"   over a new TCP connection (SYN, SYN-ACK, ACK) from 192.0.2.1:",
				" to 192.0.2.2:80\n",
				"A: HTTP/1.1 200 OK, 124 bytes of text/plain; charset=utf-8\n",
				`   first line: "Hello, 192.0.2.1:`,
				"A: POST http://192.0.2.2/echo with a 100000-byte body\n",
				"   over the same connection, kept alive from 192.0.2.1:",
				"A: HTTP/1.1 200 OK, 100000 bytes of text/plain; charset=utf-8\n",
				"   identical to what A sent",
				"B: the server shuts down",
			)
			for _, h := range []string{"Host A:", "Host B:"} {
				_, st, _ := strings.Cut(stats, h)
				if !strings.Contains(st, "\n  TCP:\n") {
					t.Errorf("the counters of %s have no TCP section:\n%s", h, stats)
				}
			}
		})
	}
}
