package tcptest

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/stacknet/stacknet/proto/tcp"
)

// Mismatch is the error Match returns: the first field in which the
// segment differs from the expectation, with both values in the script
// notation.
type Mismatch struct {
	Field string // "flags", "seq", "len", "ack", "win", "options" or "option 3" (from 1)
	Want  string
	Got   string
}

// Error returns "ack: want 1001, got 1".
func (m *Mismatch) Error() string {
	return m.Field + ": want " + m.Want + ", got " + m.Got
}

// Match reports whether got, a segment the machine sent (see SegmentOf),
// is the one want expects, and if not returns a *Mismatch naming the
// first field that differs, in the order flags, seq, len, ack, win,
// options.
//
// The flags, the sequence number and the payload length must be equal.
// The ack and win fields are compared when want has them (HasAck,
// HasWin) and are don't-cares otherwise. Options are compared when want
// has them (OptsGiven), and then as lists, item by item in order, NOPs
// included, since the order is what a stack writes: "<mss 1460,nop>" does
// not match "<nop,mss 1460>". A "*" timestamp value in want matches any
// value. An eol at the end of either list is ignored: it only marks the
// end, as does the end of the option space, and padding may bring one.
// Fields of got are taken as values: its "*"s mean nothing.
func (want Segment) Match(got Segment) error {
	if want.Flags != got.Flags {
		return &Mismatch{"flags", want.Flags.String(), got.Flags.String()}
	}
	if want.Seq != got.Seq {
		return &Mismatch{"seq", seqString(want.Seq), seqString(got.Seq)}
	}
	if want.Len != got.Len {
		return &Mismatch{"len", strconv.Itoa(want.Len), strconv.Itoa(got.Len)}
	}
	if want.HasAck {
		if !got.HasAck {
			return &Mismatch{"ack", seqString(want.Ack), "none"}
		}
		if want.Ack != got.Ack {
			return &Mismatch{"ack", seqString(want.Ack), seqString(got.Ack)}
		}
	}
	if want.HasWin {
		if !got.HasWin {
			return &Mismatch{"win", strconv.Itoa(int(want.Win)), "none"}
		}
		if want.Win != got.Win {
			return &Mismatch{"win", strconv.Itoa(int(want.Win)), strconv.Itoa(int(got.Win))}
		}
	}
	if !want.OptsGiven {
		return nil
	}
	w, g := trimEOL(want.Opts), trimEOL(got.Opts)
	for i := range min(len(w), len(g)) {
		if !w[i].matches(&g[i]) {
			return &Mismatch{"option " + strconv.Itoa(i+1), strconv.Quote(w[i].String()), strconv.Quote(g[i].String())}
		}
	}
	if len(w) != len(g) {
		return &Mismatch{"options", optionsString(want.Opts), optionsString(got.Opts)}
	}
	return nil
}

// trimEOL drops a final eol.
func trimEOL(opts []Option) []Option {
	if n := len(opts); n > 0 && opts[n-1].Kind == tcp.OptEOL {
		return opts[:n-1]
	}
	return opts
}

// matches reports whether the option got is the option o expects, a "*"
// in o matching any timestamp value.
func (o *Option) matches(got *Option) bool {
	if o.Kind != got.Kind {
		return false
	}
	switch o.Kind {
	case tcp.OptEOL, tcp.OptNOP, tcp.OptSACKPermitted:
		return true
	case tcp.OptMSS:
		return o.MSS == got.MSS
	case tcp.OptWScale:
		return o.WScale == got.WScale
	case tcp.OptTimestamps:
		return (o.TSValAny || o.TSVal == got.TSVal) && (o.TSEcrAny || o.TSEcr == got.TSEcr)
	case tcp.OptSACK:
		return slices.Equal(o.SACK, got.SACK)
	}
	return bytes.Equal(o.Data, got.Data)
}

func seqString(s tcp.Seq) string { return strconv.FormatUint(uint64(s), 10) }
