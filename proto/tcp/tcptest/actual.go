package tcptest

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/stacknet/stacknet/proto/tcp"
)

// SegmentOf describes a segment on the wire in the script notation, so
// that it can be matched against an expectation (Match) or printed in a
// failure (String). Sequence numbers are made relative: Seq counts from
// seqBase, the initial sequence number of the sender, and Ack and SACK
// edges from ackBase, that of the receiver. Every field is given: HasWin
// is set, HasAck is set when the ACK flag is, and OptsGiven is set even
// when there are no options.
//
// The options are listed as they lie on the wire, NOPs included, each
// kind the notation has no keyword for as "opt K HEX". An EOL is listed
// and ends the list; the padding after it is not read. The options must
// be walkable and those with keywords the right length, or SegmentOf
// returns tcp.ErrOptionLength or tcp.ErrOptionSize, as tcp.ParseOptions
// would; a window scale above 14 is shown as sent. The urgent pointer and
// the reserved bits are not part of the notation and are not shown.
func SegmentOf(h tcp.Header, seqBase, ackBase tcp.Seq) (Segment, error) {
	s := headerFields(h, seqBase, ackBase)
	opts, err := wireOptions(h.Options(), ackBase)
	if err != nil {
		return Segment{}, err
	}
	s.Opts, s.OptsGiven = opts, true
	return s, nil
}

// headerFields is SegmentOf without the options.
func headerFields(h tcp.Header, seqBase, ackBase tcp.Seq) Segment {
	s := Segment{
		Flags:  h.Flags(),
		Seq:    h.Seq() - seqBase,
		Len:    len(h.Payload()),
		Win:    h.Window(),
		HasWin: true,
	}
	if s.Flags&tcp.ACK != 0 {
		s.Ack, s.HasAck = h.Ack()-ackBase, true
	}
	return s
}

// wireOptions lists the options in b in order, up to an EOL.
func wireOptions(b []byte, ackBase tcp.Seq) ([]Option, error) {
	var opts []Option
	for i := 0; i < len(b); {
		kind := b[i]
		if kind == tcp.OptEOL || kind == tcp.OptNOP {
			opts = append(opts, Option{Kind: kind})
			if kind == tcp.OptEOL {
				break
			}
			i++
			continue
		}
		if i+1 >= len(b) {
			return nil, tcp.ErrOptionLength
		}
		n := int(b[i+1])
		if n < 2 || n > len(b)-i {
			return nil, tcp.ErrOptionLength
		}
		v := b[i+2 : i+n]
		o := Option{Kind: kind}
		if !sizeOK(kind, n) {
			return nil, tcp.ErrOptionSize
		}
		switch kind {
		case tcp.OptMSS:
			o.MSS = binary.BigEndian.Uint16(v)
		case tcp.OptWScale:
			o.WScale = v[0]
		case tcp.OptSACKPermitted:
		case tcp.OptTimestamps:
			o.TSVal = binary.BigEndian.Uint32(v[0:4])
			o.TSEcr = binary.BigEndian.Uint32(v[4:8])
		case tcp.OptSACK:
			for j := 0; j+8 <= len(v); j += 8 {
				o.SACK = append(o.SACK, tcp.SACKBlock{
					Start: tcp.Seq(binary.BigEndian.Uint32(v[j:])) - ackBase,
					End:   tcp.Seq(binary.BigEndian.Uint32(v[j+4:])) - ackBase,
				})
			}
		default:
			if len(v) > 0 {
				o.Data = slices.Clone(v)
			}
		}
		opts = append(opts, o)
		i += n
	}
	return opts, nil
}

// sizeOK reports whether n octets is the right length for an option of
// the kind, when the notation has a keyword for it; any length is right
// for other kinds.
func sizeOK(kind uint8, n int) bool {
	switch kind {
	case tcp.OptMSS:
		return n == 4
	case tcp.OptWScale:
		return n == 3
	case tcp.OptSACKPermitted:
		return n == 2
	case tcp.OptTimestamps:
		return n == 10
	case tcp.OptSACK:
		return n >= 10 && (n-2)%8 == 0 // the 40 octets hold at most 4 blocks
	}
	return true
}

// FormatActual writes a segment on the wire in the script notation, as
// SegmentOf describes it, for a failure message beside the expectation:
// "S. 0:0(0) ack 1 win 65160 <mss 1460,sackOK,TS val 1 ecr 100,nop,wscale 7>".
// Options SegmentOf cannot read are shown as their octets,
// "<malformed: 02 03 05>", which Parse does not accept.
func FormatActual(h tcp.Header, seqBase, ackBase tcp.Seq) string {
	s, err := SegmentOf(h, seqBase, ackBase)
	if err == nil {
		return s.String()
	}
	return headerFields(h, seqBase, ackBase).String() + fmt.Sprintf(" <malformed: % x>", h.Options())
}
