package tcptest

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/stacknet/stacknet/proto/tcp"
)

// Dir is what a step does: inject a segment, expect one, or make a call.
type Dir uint8

// The kinds of step.
const (
	In   Dir = iota + 1 // "<": a segment the peer sends to the machine
	Out                 // ">": a segment the machine is expected to send
	Call                // name(args) = result: a call on the machine
)

// String returns "<", ">" or "call".
func (d Dir) String() string {
	switch d {
	case In:
		return "<"
	case Out:
		return ">"
	case Call:
		return "call"
	}
	return "Dir(" + strconv.Itoa(int(d)) + ")"
}

// Option is one TCP option as a script writes it. Kind is the option
// kind on the wire (tcp.OptEOL, tcp.OptNOP, tcp.OptMSS, tcp.OptWScale,
// tcp.OptSACKPermitted, tcp.OptSACK, tcp.OptTimestamps), and any other
// kind is carried raw, as its octets after the kind and length. Only the
// fields of the Kind are meaningful; the others are zero.
type Option struct {
	Kind uint8

	MSS    uint16 // mss N
	WScale uint8  // wscale N, as written: a shift above 14 is not clamped

	TSVal, TSEcr       uint32 // TS val V ecr E
	TSValAny, TSEcrAny bool   // "*" written for the value: see Segment

	// SACK are the blocks of sack A:B ..., one to four, numbered like
	// the ack field: relative to the initial sequence number of the
	// side whose data they acknowledge.
	SACK []tcp.SACKBlock

	// Data are the octets after the kind and length of an option of
	// any other kind, written "opt K HEX"; nil for none.
	Data []byte
}

// wireLen is the length of the option on the wire.
func (o *Option) wireLen() int {
	switch o.Kind {
	case tcp.OptEOL, tcp.OptNOP:
		return 1
	case tcp.OptMSS:
		return 4
	case tcp.OptWScale:
		return 3
	case tcp.OptSACKPermitted:
		return 2
	case tcp.OptTimestamps:
		return 10
	case tcp.OptSACK:
		return 2 + 8*len(o.SACK)
	}
	return 2 + len(o.Data)
}

// hasKeyword reports whether the notation has a keyword for the kind,
// rather than "opt K".
func hasKeyword(kind uint8) bool {
	switch kind {
	case tcp.OptEOL, tcp.OptNOP, tcp.OptMSS, tcp.OptWScale, tcp.OptSACKPermitted, tcp.OptSACK, tcp.OptTimestamps:
		return true
	}
	return false
}

// String writes the option as a script does: "mss 1460", "sackOK",
// "TS val 100 ecr *", "nop", "wscale 7", "sack 1:101 201:301", "eol",
// "opt 34 0a0b0c0d".
func (o Option) String() string {
	switch o.Kind {
	case tcp.OptEOL:
		return "eol"
	case tcp.OptNOP:
		return "nop"
	case tcp.OptMSS:
		return "mss " + strconv.Itoa(int(o.MSS))
	case tcp.OptWScale:
		return "wscale " + strconv.Itoa(int(o.WScale))
	case tcp.OptSACKPermitted:
		return "sackOK"
	case tcp.OptTimestamps:
		return "TS val " + tsField(o.TSVal, o.TSValAny) + " ecr " + tsField(o.TSEcr, o.TSEcrAny)
	case tcp.OptSACK:
		var b strings.Builder
		b.WriteString("sack")
		for _, s := range o.SACK {
			b.WriteString(" " + strconv.FormatUint(uint64(s.Start), 10) + ":" + strconv.FormatUint(uint64(s.End), 10))
		}
		return b.String()
	}
	s := "opt " + strconv.Itoa(int(o.Kind))
	if len(o.Data) > 0 {
		s += " " + hex.EncodeToString(o.Data)
	}
	return s
}

func tsField(v uint32, any bool) string {
	if any {
		return "*"
	}
	return strconv.FormatUint(uint64(v), 10)
}

// Segment is a segment as a script writes it. Sequence numbers are
// relative, as in packetdrill and tcpdump: Seq counts from the initial
// sequence number of the side that sends the segment, Ack (and the edges
// of SACK blocks) from that of the side that receives it, so that both
// SYNs are at 0 and the first data octet at 1.
//
// For an expected (outbound) segment, a field not written is a don't-care:
// HasAck false, HasWin false, OptsGiven false, or "*" for a timestamp
// value (TSValAny, TSEcrAny). For an injected (inbound) segment, every
// field is given (Parse insists on ack and win), absent options mean none,
// and a "*" timestamp value is for the runner to fill in before it sends
// the segment (see ResolveTS): "ecr *" echoes the TSval of the last
// segment the machine sent, "val *" is the peer's clock.
type Segment struct {
	Flags tcp.Flags

	Seq tcp.Seq // the first sequence number, relative
	Len int     // the payload length in octets: SYN and FIN not counted

	Ack    tcp.Seq // the acknowledgment number, relative, when HasAck
	HasAck bool

	Win    uint16 // the window field as on the wire, unscaled, when HasWin
	HasWin bool

	// Opts are the options in the order written, which is their order on
	// the wire: Linux writes a SYN's as mss, sackOK, TS, nop, wscale and a
	// data segment's as nop, nop, TS, then nop, nop, sack. Padding is not
	// listed, apart from an eol the script writes, which is always last.
	Opts      []Option
	OptsGiven bool // "<...>" was written, possibly "<>" for no options
}

// End is the sequence number after the payload: Seq + Len.
func (s Segment) End() tcp.Seq { return s.Seq.Add(s.Len) }

// String writes the segment as a script does, without the direction:
// "P. 1:1001(1000) ack 1 win 512 <nop,nop,TS val 100 ecr 200>".
func (s Segment) String() string {
	var b strings.Builder
	b.WriteString(s.Flags.String()) // tcpdump's notation, "none" for no flags
	b.WriteString(" " + strconv.FormatUint(uint64(s.Seq), 10) + ":" + strconv.FormatUint(uint64(s.End()), 10) + "(" + strconv.Itoa(s.Len) + ")")
	if s.HasAck {
		b.WriteString(" ack " + strconv.FormatUint(uint64(s.Ack), 10))
	}
	if s.HasWin {
		b.WriteString(" win " + strconv.Itoa(int(s.Win)))
	}
	if s.OptsGiven {
		b.WriteString(" " + optionsString(s.Opts))
	}
	return b.String()
}

// optionsString writes an option list in angle brackets: "<mss 1460,nop>".
func optionsString(opts []Option) string {
	var b strings.Builder
	b.WriteByte('<')
	for i, o := range opts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(o.String())
	}
	b.WriteByte('>')
	return b.String()
}

// optionsLen is the length of the options on the wire, before padding.
func optionsLen(opts []Option) int {
	n := 0
	for i := range opts {
		n += opts[i].wireLen()
	}
	return n
}

// ErrWildcard is returned by AppendOptions and Options for a segment with
// a "*" timestamp value, which has no value to put on the wire until the
// runner fills it in with ResolveTS.
var ErrWildcard = errors.New("tcptest: a TS value is \"*\": fill it in with ResolveTS first")

// ErrOptionsTooLong is returned by AppendOptions and Options when the
// options do not fit in the 40 octets of a header. Parse never returns a
// segment whose options are too long.
var ErrOptionsTooLong = errors.New("tcptest: options longer than the 40 octets of a header")

// ResolveTS returns a copy of s with each "*" in a timestamps option
// replaced: TSVal by val, TSEcr by ecr. s itself is not changed.
func (s Segment) ResolveTS(val, ecr uint32) Segment {
	if s.Opts == nil {
		return s
	}
	opts := make([]Option, len(s.Opts))
	copy(opts, s.Opts)
	for i := range opts {
		o := &opts[i]
		if o.Kind != tcp.OptTimestamps {
			continue
		}
		if o.TSValAny {
			o.TSVal, o.TSValAny = val, false
		}
		if o.TSEcrAny {
			o.TSEcr, o.TSEcrAny = ecr, false
		}
	}
	s.Opts = opts
	return s
}

// AppendOptions appends the options to b exactly as written, in order,
// NOPs and EOL included, then zero octets up to a multiple of four (the
// padding of RFC 9293 3.1), so that a runner can reproduce any layout,
// Linux's or another. SACK edges are written as ackBase plus the relative
// numbers, the initial sequence number of the side whose data they
// acknowledge. It returns ErrWildcard for a "*" timestamp value and
// ErrOptionsTooLong for options beyond 40 octets.
func (s Segment) AppendOptions(b []byte, ackBase tcp.Seq) ([]byte, error) {
	n := optionsLen(s.Opts)
	if n > tcp.MaxOptionsLen {
		return b, ErrOptionsTooLong
	}
	for i := range s.Opts {
		if o := &s.Opts[i]; o.Kind == tcp.OptTimestamps && (o.TSValAny || o.TSEcrAny) {
			return b, ErrWildcard
		}
	}
	for i := range s.Opts {
		o := &s.Opts[i]
		switch o.Kind {
		case tcp.OptEOL, tcp.OptNOP:
			b = append(b, o.Kind)
		case tcp.OptMSS:
			b = binary.BigEndian.AppendUint16(append(b, o.Kind, 4), o.MSS)
		case tcp.OptWScale:
			b = append(b, o.Kind, 3, o.WScale)
		case tcp.OptSACKPermitted:
			b = append(b, o.Kind, 2)
		case tcp.OptTimestamps:
			b = binary.BigEndian.AppendUint32(append(b, o.Kind, 10), o.TSVal)
			b = binary.BigEndian.AppendUint32(b, o.TSEcr)
		case tcp.OptSACK:
			b = append(b, o.Kind, byte(o.wireLen()))
			for _, blk := range o.SACK {
				b = binary.BigEndian.AppendUint32(b, uint32(ackBase+blk.Start))
				b = binary.BigEndian.AppendUint32(b, uint32(ackBase+blk.End))
			}
		default:
			b = append(append(b, o.Kind, byte(o.wireLen())), o.Data...)
		}
	}
	for ; n%4 != 0; n++ {
		b = append(b, 0)
	}
	return b, nil
}

// Options returns the options as a receiver reads them: exactly what
// tcp.ParseOptions makes of the octets AppendOptions writes (an option
// written twice counts once, the later; nothing after eol counts; a
// window scale above 14 reads as 14). It returns ErrWildcard for a "*"
// timestamp value, ErrOptionsTooLong for options beyond 40 octets, and
// tcp.ParseOptions's error for a list it cannot read, which only a
// Segment built by hand can hold (a sack option with no blocks).
func (s Segment) Options(ackBase tcp.Seq) (tcp.Options, error) {
	var buf [tcp.MaxOptionsLen]byte
	b, err := s.AppendOptions(buf[:0], ackBase)
	if err != nil {
		return tcp.Options{}, err
	}
	return tcp.ParseOptions(b)
}
