package tcptest

import (
	"errors"
	"strings"
	"testing"
)

// TestParseErrors puts each malformed line after a few good ones and
// checks that Parse names its line and says what is wrong.
func TestParseErrors(t *testing.T) {
	const prefix = "// good lines first\n0 listen() = 0\n\n+0 < S 0:0(0) win 65535\n" // the bad line is line 5
	tests := []struct{ line, msg string }{
		// Time.
		{"< S 0:0(0) win 1", `bad time "<": expected digits, '.', '+' or '~', found '<'`},
		{"0.1.2 > S 0:0(0)", `bad time "0.1.2": expected digits after '.', found '.'`},
		{"+.2~.3 > S 0:0(0)", `both ends of a time range must be relative ("+.1~+.2") or both absolute ("0.1~0.2")`},
		{"0.3~0.2 > S 0:0(0)", `time range ends (0.2) before it starts (0.3)`},
		{"0.0000000001 > S 0:0(0)", `bad time "0.0000000001": more than nine digits after the point (nanoseconds)`},
		{"+0", `expected '<', '>' or a call after the time`},
		{"+0 // nothing but a comment after the time", `expected '<', '>' or a call after the time`},
		// Flags.
		{"0 > 0:0(0)", `expected flags such as S, S., ., P. or R. after '>', found "0:0(0)"`},
		{"0 > SX 0:0(0)", `bad flag 'X' in "SX": flags are F S R P . U E W, or none`},
		{"0 > S.S 0:0(0)", `flag 'S' written twice in "S.S"`},
		// Sequence numbers.
		{"0 > S.", `expected the start sequence number after the flags, found end of line`},
		{"0 > S. 0(0)", `expected ':' after the start sequence number, found "("`},
		{"0 > S. 0:0", `expected '(' after the end sequence number, found end of line`},
		{"0 > S. 0:0(0", `expected ')' after the payload length, found end of line`},
		{"0 > P. 1:1001(999) ack 1", `sequence numbers 1:1001 span 1000 octets but the length is 999`},
		{"0 > S. 4294967296:0(0)", `the start sequence number 4294967296 out of range: at most 4294967295`},
		{"0 > P. 1:70001(70000)", `the payload length 70000 out of range: at most 65495`},
		{"0 > P. -1:1(2)", `expected the start sequence number after the flags, found "-"`},
		// ack and win.
		{"0 > . 1:1(0) ack", `expected ack number after "ack", found end of line`},
		{"0 > . 1:1(0) ack x", `expected ack number after "ack", found "x"`},
		{"0 > . 1:1(0) ack 1 ack 2", `"ack" written twice`},
		{"0 < . 1:1(0) win 5 ack 1", `"ack" must come before "win"`},
		{"0 > . 1:1(0) win 65536", `the window 65536 out of range: at most 65535`},
		{"0 > . 1:1(0) win 1 win 2", `"win" written twice`},
		{"0 > S 0:0(0) ack 1", `"ack" written without the ACK flag ('.'): the field means nothing then`},
		{"0 < . 1:1(0) win 100", `an inbound segment with the ACK flag needs "ack N"`},
		{"0 < S 0:0(0) <mss 1460>", `an inbound segment needs "win N"`},
		{"0 > . 1:1(0) <nop> ack 1", `unexpected "ack" after the options: they come last`},
		{"0 > . 1:1(0) window 5", `unexpected "window": after the sequence numbers come ack N, win N and <options>`},
		// Options.
		{"0 > S. 0:0(0) <mss 1460", `expected ',' or '>' after option "mss 1460", found end of line`},
		{"0 > S. 0:0(0) <mss 1460 nop>", `expected ',' or '>' after option "mss 1460", found "nop"`},
		{"0 > S. 0:0(0) <", `expected an option, found end of line: is the '>' missing?`},
		{"0 > S. 0:0(0) <mss>", `expected the MSS after "mss", found ">"`},
		{"0 > S. 0:0(0) <mss 65536>", `the MSS 65536 out of range: at most 65535`},
		{"0 > S. 0:0(0) <wscale 256>", `the shift count 256 out of range: at most 255`},
		{"0 > S. 0:0(0) <TS 1 2>", `expected 'val' after "TS", found "1"`},
		{"0 > S. 0:0(0) <TS val 1>", `expected 'ecr' after the TS value, found ">"`},
		{"0 > S. 0:0(0) <TS val 1 ecr>", `expected a timestamp or '*' after "ecr", found ">"`},
		{"0 > S. 0:0(0) <TS val ** ecr 1>", `expected 'ecr' after the TS value, found "*"`},
		{"0 > . 1:1(0) <sack>", `expected a SACK block start:end after "sack", found ">"`},
		{"0 > . 1:1(0) <sack 1>", `expected ':' after the start of a SACK block, found ">"`},
		{"0 > . 1:1(0) <sack 1:2 3:4 5:6 7:8 9:10>", `more than 4 SACK blocks`},
		{"0 > . 1:1(0) <eol,nop>", `eol must be the last option: it ends the list`},
		{"0 > . 1:1(0) <MSS 1460>", `unknown option "MSS": options are mss N, wscale N, sackOK, TS val N ecr N, sack A:B ..., nop, eol and opt KIND HEX`},
		{"0 > . 1:1(0) <opt 2 05b4>", `option kind 2 has a keyword (eol, nop, mss, wscale, sackOK, sack or TS): write it with that`},
		{"0 > . 1:1(0) <opt 34 abc>", `expected the option's data in hex after "opt 34", found "abc"`},
		{"0 > . 1:1(0) <opt 34 zz>", `expected the option's data in hex after "opt 34", found "zz"`},
		{"0 > . 1:1(0) <opt 256>", `an option kind 256 out of range: at most 255`},
		{"0 > . 1:1(0) <opt 34 " + strings.Repeat("00", 39) + ">", `option data of 39 octets: at most 38 fit`},
		{"0 > S. 0:0(0) <mss 1,mss 2,mss 3,mss 4,mss 5,mss 6,mss 7,mss 8,mss 9,mss 10,mss 11>",
			`the options take more than the 40 octets of a header`},
		{"0 > S. 0:0(0) <mss 1460> extra", `unexpected "extra" after the options: they come last`},
		// Calls.
		{"0 read", `expected '(' after "read"`},
		{"0 9read() = 0", `expected '<', '>' or a call such as "read(100) = 100" after the time, found "9read() = 0"`},
		{"0 read(100", `read: expected ')' to close the arguments`},
		{"0 read(100)", `expected "= result" after "read(...)", found end of line`},
		{"0 read(100) 100", `expected "= result" after "read(...)", found "100"`},
		{"0 read(100) =", `expected an integer result after '=', found end of line`},
		{"0 read(100) = x", `expected an integer result after '=', found "x"`},
		{"0 read(100) = 99999999999999999999", `result "99999999999999999999" out of range`},
		{"0 read(100) = -1", `expected an errno name such as EAGAIN after the result -1`},
		{"0 read(100) = 0 EAGAIN", `an errno name (EAGAIN) follows only a result of -1`},
		{"0 read(100) = -1 eagain", `bad errno name "eagain": want E and capitals or digits, such as ECONNRESET`},
		{"0 read(100) = -1 EAGAIN junk", `unexpected "junk" after the result`},
		{"0 read(100) = -1 E", `bad errno name "E": want E and capitals or digits, such as ECONNRESET`},
		{"0 read(100) = -1 EAGAIN and then a long tail of words", `unexpected "and then a long tail of "... after the result`},
		{"0 read(100) = 5 (text)", `unexpected "(text)" after the result`},
		{"0 f(a,,b) = 0", `f: empty argument`},
		{"0 f(a,) = 0", `f: empty argument`},
		{"0 f([a)]) = 0", `f: unbalanced ')' in the arguments`},
		{"0 f(a]) = 0", `f: unbalanced ']' in the arguments`},
		{`0 f("a) = 0`, `unterminated string: a '"' without its closing '"'`},
	}
	for _, tt := range tests {
		steps, err := Parse(prefix + tt.line + "\n0 close() = 0\n")
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: Parse = %d steps, %v; want an *Error", tt.line, len(steps), err)
			continue
		}
		if steps != nil {
			t.Errorf("%q: Parse returned steps with its error", tt.line)
		}
		if e.Line != 5 || e.File != "" {
			t.Errorf("%q: error at line %d (file %q), want line 5", tt.line, e.Line, e.File)
		}
		if want := "line 5: " + tt.msg; err.Error() != want {
			t.Errorf("%q:\n got  %s\n want %s", tt.line, err, want)
		}
	}
}
