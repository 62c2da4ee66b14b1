package tcptest

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/stacknet/stacknet/proto/tcp"
)

// MaxPayload is the longest payload a segment may have: what an IPv4
// datagram carries after a TCP header without options.
const MaxPayload = tcp.MaxSegment - tcp.HeaderLen

// lexer splits the part of a line after the direction into tokens: words
// (runs of letters, digits and '_') and single other characters. Spaces
// and tabs separate tokens and are otherwise ignored.
type lexer struct {
	s string
	i int
}

func (l *lexer) skipSpace() {
	for l.i < len(l.s) && (l.s[l.i] == ' ' || l.s[l.i] == '\t') {
		l.i++
	}
}

// next returns the next token and consumes it; "" at the end of the line.
func (l *lexer) next() string {
	l.skipSpace()
	if l.i >= len(l.s) {
		return ""
	}
	start := l.i
	if !isIdentChar(l.s[l.i], false) {
		l.i++
		return l.s[start:l.i]
	}
	for l.i < len(l.s) && isIdentChar(l.s[l.i], false) {
		l.i++
	}
	return l.s[start:l.i]
}

// peek returns the next token without consuming it.
func (l *lexer) peek() string {
	i := l.i
	t := l.next()
	l.i = i
	return t
}

// expect consumes the token want, or fails saying what it should follow.
func (l *lexer) expect(want, after string) error {
	if t := l.next(); t != want {
		return errors.New("expected '" + want + "' after " + after + ", found " + quoteTok(t))
	}
	return nil
}

// number consumes a decimal number no larger than max; what names it and
// after says what it follows, for the error.
func (l *lexer) number(what, after string, max uint64) (uint64, error) {
	t := l.next()
	n, ok := parseUint(t)
	if !ok {
		return 0, errors.New("expected " + what + " after " + after + ", found " + quoteTok(t))
	}
	if n > max {
		return 0, errors.New(what + " " + t + " out of range: at most " + strconv.FormatUint(max, 10))
	}
	return n, nil
}

// parseUint parses decimal digits, saturating far beyond any limit used
// here rather than overflowing.
func parseUint(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < 1<<60 {
			n = n*10 + uint64(c-'0')
		}
	}
	return n, true
}

func isNumber(t string) bool {
	_, ok := parseUint(t)
	return ok
}

// quoteTok quotes a token for an error message.
func quoteTok(t string) string {
	if t == "" {
		return "end of line"
	}
	return quoteRest(t)
}

// parseFlags parses flags in tcpdump's notation, in any order, or "none".
func parseFlags(t string) (tcp.Flags, error) {
	if t == "none" {
		return 0, nil
	}
	const names = "FSRP.UEW" // tcp.Flags bit i is names[i]
	var f tcp.Flags
	for i := 0; i < len(t); i++ {
		bit := strings.IndexByte(names, t[i])
		if bit < 0 {
			return 0, errors.New("bad flag " + strconv.QuoteRune(rune(t[i])) + " in " + strconv.Quote(t) + ": flags are F S R P . U E W, or none")
		}
		if f&(1<<bit) != 0 {
			return 0, errors.New("flag " + strconv.QuoteRune(rune(t[i])) + " written twice in " + strconv.Quote(t))
		}
		f |= 1 << bit
	}
	return f, nil
}

// parseSegment parses what follows '<' or '>':
// "FLAGS start:end(len) [ack N] [win N] [<options>]".
func parseSegment(s string, dir Dir) (Segment, error) {
	var seg Segment
	l := &lexer{s: s}
	l.skipSpace()
	start := l.i
	for l.i < len(s) && (s[l.i] == '.' || s[l.i] >= 'A' && s[l.i] <= 'Z' || s[l.i] >= 'a' && s[l.i] <= 'z') {
		l.i++
	}
	if start == l.i {
		return seg, errors.New("expected flags such as S, S., ., P. or R. after '" + dir.String() + "', found " + quoteRest(s[start:]))
	}
	var err error
	if seg.Flags, err = parseFlags(s[start:l.i]); err != nil {
		return seg, err
	}

	// start:end(len)
	first, err := l.number("the start sequence number", "the flags", 1<<32-1)
	if err != nil {
		return seg, err
	}
	if err := l.expect(":", "the start sequence number"); err != nil {
		return seg, err
	}
	end, err := l.number("the end sequence number", "':'", 1<<32-1)
	if err != nil {
		return seg, err
	}
	if err := l.expect("(", "the end sequence number"); err != nil {
		return seg, err
	}
	n, err := l.number("the payload length", "'('", MaxPayload)
	if err != nil {
		return seg, err
	}
	if err := l.expect(")", "the payload length"); err != nil {
		return seg, err
	}
	seg.Seq, seg.Len = tcp.Seq(first), int(n)
	if seg.End() != tcp.Seq(end) {
		return seg, errors.New("sequence numbers " + strconv.FormatUint(first, 10) + ":" + strconv.FormatUint(end, 10) +
			" span " + strconv.FormatUint(uint64(uint32(end-first)), 10) + " octets but the length is " + strconv.FormatUint(n, 10))
	}

	// [ack N] [win N] [<options>], in that order.
	for {
		t := l.next()
		switch {
		case t == "":
			return seg, checkSegment(&seg, dir)
		case seg.OptsGiven:
			return seg, errors.New("unexpected " + quoteTok(t) + " after the options: they come last")
		case t == "ack":
			if seg.HasAck {
				return seg, errors.New("\"ack\" written twice")
			}
			if seg.HasWin {
				return seg, errors.New("\"ack\" must come before \"win\"")
			}
			a, err := l.number("ack number", "\"ack\"", 1<<32-1)
			if err != nil {
				return seg, err
			}
			seg.Ack, seg.HasAck = tcp.Seq(a), true
		case t == "win":
			if seg.HasWin {
				return seg, errors.New("\"win\" written twice")
			}
			w, err := l.number("the window", "\"win\"", 1<<16-1)
			if err != nil {
				return seg, err
			}
			seg.Win, seg.HasWin = uint16(w), true
		case t == "<":
			if seg.Opts, err = parseOptions(l); err != nil {
				return seg, err
			}
			seg.OptsGiven = true
		default:
			return seg, errors.New("unexpected " + quoteTok(t) + ": after the sequence numbers come ack N, win N and <options>")
		}
	}
}

// checkSegment applies the rules that tie fields together.
func checkSegment(seg *Segment, dir Dir) error {
	hasACK := seg.Flags&tcp.ACK != 0
	switch {
	case seg.HasAck && !hasACK:
		return errors.New("\"ack\" written without the ACK flag ('.'): the field means nothing then")
	case dir == In && hasACK && !seg.HasAck:
		return errors.New("an inbound segment with the ACK flag needs \"ack N\"")
	case dir == In && !seg.HasWin:
		return errors.New("an inbound segment needs \"win N\"")
	}
	return nil
}

// parseOptions parses an option list after its '<', through its '>'.
func parseOptions(l *lexer) ([]Option, error) {
	if l.peek() == ">" {
		l.next()
		return nil, nil
	}
	var opts []Option
	n := 0
	for {
		o, err := parseOption(l)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
		// Checked as the list grows, so that a long line of options
		// fails early rather than building a long list.
		if n += o.wireLen(); n > tcp.MaxOptionsLen {
			return nil, errors.New("the options take more than the 40 octets of a header")
		}
		t := l.next()
		if t == ">" {
			break
		}
		if o.Kind == tcp.OptEOL {
			return nil, errors.New("eol must be the last option: it ends the list")
		}
		if t != "," {
			return nil, errors.New("expected ',' or '>' after option \"" + o.String() + "\", found " + quoteTok(t))
		}
	}
	return opts, nil
}

// parseOption parses one option.
func parseOption(l *lexer) (Option, error) {
	var o Option
	switch t := l.next(); t {
	case "nop":
		o.Kind = tcp.OptNOP
	case "eol":
		o.Kind = tcp.OptEOL
	case "sackOK":
		o.Kind = tcp.OptSACKPermitted
	case "mss":
		o.Kind = tcp.OptMSS
		n, err := l.number("the MSS", "\"mss\"", 1<<16-1)
		if err != nil {
			return o, err
		}
		o.MSS = uint16(n)
	case "wscale":
		o.Kind = tcp.OptWScale
		n, err := l.number("the shift count", "\"wscale\"", 255)
		if err != nil {
			return o, err
		}
		o.WScale = uint8(n)
	case "TS":
		o.Kind = tcp.OptTimestamps
		var err error
		if err = l.expect("val", "\"TS\""); err != nil {
			return o, err
		}
		if o.TSVal, o.TSValAny, err = tsValue(l, "\"val\""); err != nil {
			return o, err
		}
		if err = l.expect("ecr", "the TS value"); err != nil {
			return o, err
		}
		if o.TSEcr, o.TSEcrAny, err = tsValue(l, "\"ecr\""); err != nil {
			return o, err
		}
	case "sack":
		o.Kind = tcp.OptSACK
		for len(o.SACK) == 0 || isNumber(l.peek()) {
			if len(o.SACK) == tcp.MaxSACKBlocks {
				return o, errors.New("more than 4 SACK blocks")
			}
			a, err := l.number("a SACK block start:end", "\"sack\"", 1<<32-1)
			if err != nil {
				return o, err
			}
			if err := l.expect(":", "the start of a SACK block"); err != nil {
				return o, err
			}
			b, err := l.number("the end of a SACK block", "':'", 1<<32-1)
			if err != nil {
				return o, err
			}
			o.SACK = append(o.SACK, tcp.SACKBlock{Start: tcp.Seq(a), End: tcp.Seq(b)})
		}
	case "opt":
		k, err := l.number("an option kind", "\"opt\"", 255)
		if err != nil {
			return o, err
		}
		o.Kind = uint8(k)
		if hasKeyword(o.Kind) {
			return o, errors.New("option kind " + strconv.FormatUint(k, 10) + " has a keyword (eol, nop, mss, wscale, sackOK, sack or TS): write it with that")
		}
		if p := l.peek(); p != "," && p != ">" && p != "" {
			t := l.next()
			d, err := hex.DecodeString(t)
			if err != nil || len(t) == 0 {
				return o, errors.New("expected the option's data in hex after \"opt " + strconv.FormatUint(k, 10) + "\", found " + quoteTok(t))
			}
			if len(d) > tcp.MaxOptionsLen-2 {
				return o, errors.New("option data of " + strconv.Itoa(len(d)) + " octets: at most 38 fit")
			}
			o.Data = d
		}
	case "":
		return o, errors.New("expected an option, found end of line: is the '>' missing?")
	default:
		return o, errors.New("unknown option " + quoteTok(t) + ": options are mss N, wscale N, sackOK, TS val N ecr N, sack A:B ..., nop, eol and opt KIND HEX")
	}
	return o, nil
}

// tsValue parses a timestamp value, a number or "*".
func tsValue(l *lexer, after string) (v uint32, any bool, err error) {
	if l.peek() == "*" {
		l.next()
		return 0, true, nil
	}
	n, err := l.number("a timestamp or '*'", after, 1<<32-1)
	return uint32(n), false, err
}
