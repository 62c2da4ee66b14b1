package tcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/stacknet/stacknet/proto/checksum"
	"github.com/stacknet/stacknet/proto/ipv4"
)

// HeaderLen is the length of a header without options.
const HeaderLen = 20

// MaxHeaderLen is the longest header: data offset 15.
const MaxHeaderLen = 60

// MaxOptionsLen is the most option space a header has.
const MaxOptionsLen = MaxHeaderLen - HeaderLen

// MaxSegment is the longest segment IPv4 can carry: 65535 - 20.
const MaxSegment = ipv4.MaxDatagram - ipv4.HeaderLen

// Errors returned by Parse and Verify; each is a reason a segment is
// dropped.
var (
	ErrShort      = errors.New("tcp: segment shorter than a header")
	ErrDataOffset = errors.New("tcp: data offset below 5 or beyond the segment")
	ErrTooLong    = errors.New("tcp: segment longer than an IPv4 datagram can carry")
	ErrChecksum   = errors.New("tcp: bad checksum")
)

// Flags are the control bits (RFC 9293 3.1; CWR and ECE from RFC 3168
// 6.1), the 14th octet of the header.
type Flags uint8

// The control bits.
const (
	FIN Flags = 1 << iota // no more data from sender
	SYN                   // synchronize sequence numbers
	RST                   // reset the connection
	PSH                   // push function
	ACK                   // acknowledgment field is significant
	URG                   // urgent pointer field is significant
	ECE                   // ECN-Echo (RFC 3168)
	CWR                   // congestion window reduced (RFC 3168)
)

// flagNames are the letters of tcpdump's notation, in its order: FIN,
// SYN, RST, PSH, ACK ('.'), URG, ECE, CWR.
const flagNames = "FSRP.UEW"

// String writes the flags as tcpdump and packetdrill do: one letter per
// bit, "." for ACK, so a SYN-ACK is "S." and a FIN-PSH-ACK "FP."; "none"
// when no bit is set.
func (f Flags) String() string {
	if f == 0 {
		return "none"
	}
	var b [8]byte
	n := 0
	for i := range 8 {
		if f&(1<<i) != 0 {
			b[n] = flagNames[i]
			n++
		}
	}
	return string(b[:n])
}

// Header is a view of a TCP segment (RFC 9293 3.1), header and payload. A
// Header returned by Parse has been validated, so no accessor panics. TCP
// has no length field: the segment is the whole IP payload.
type Header []byte

// Parse checks that b holds a TCP header whose data offset is at least 5
// and within b, and returns a view of it. It does not verify the checksum,
// which needs the IP addresses (see Verify), nor the options (see
// ParseOptions). It never allocates.
func Parse(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return nil, ErrShort
	}
	if len(b) > MaxSegment {
		return nil, ErrTooLong
	}
	hl := int(b[12]>>4) * 4
	if hl < HeaderLen || hl > len(b) {
		return nil, ErrDataOffset
	}
	return Header(b), nil
}

// SrcPort is the source port.
func (h Header) SrcPort() uint16 { return binary.BigEndian.Uint16(h[0:2]) }

// DstPort is the destination port.
func (h Header) DstPort() uint16 { return binary.BigEndian.Uint16(h[2:4]) }

// Seq is the sequence number: the number of the first data octet, or the
// initial sequence number when SYN is set.
func (h Header) Seq() Seq { return Seq(binary.BigEndian.Uint32(h[4:8])) }

// Ack is the acknowledgment number, significant when ACK is set.
func (h Header) Ack() Seq { return Seq(binary.BigEndian.Uint32(h[8:12])) }

// DataOffset is the data offset field: the header length in 32-bit words.
func (h Header) DataOffset() int { return int(h[12] >> 4) }

// HeaderLen is the header length in bytes, options included.
func (h Header) HeaderLen() int { return h.DataOffset() * 4 }

// Reserved is the four reserved bits between the data offset and the
// flags (RFC 9293 3.1: "must be zero in generated segments and must be
// ignored in received segments").
func (h Header) Reserved() uint8 { return h[12] & 0x0f }

// Flags are the control bits.
func (h Header) Flags() Flags { return Flags(h[13]) }

// Window is the window field, unscaled.
func (h Header) Window() uint16 { return binary.BigEndian.Uint16(h[14:16]) }

// Checksum is the checksum field.
func (h Header) Checksum() uint16 { return binary.BigEndian.Uint16(h[16:18]) }

// Urgent is the urgent pointer field, significant when URG is set.
func (h Header) Urgent() uint16 { return binary.BigEndian.Uint16(h[18:20]) }

// Options returns the option bytes, padding included (see ParseOptions).
func (h Header) Options() []byte { return h[HeaderLen:h.HeaderLen()] }

// Payload returns the data after the header.
func (h Header) Payload() []byte { return h[h.HeaderLen():] }

// SegLen is SEG.LEN (RFC 9293 3.3.1): the octets of sequence space the
// segment occupies, its data plus one for SYN and one for FIN.
func (h Header) SegLen() int {
	n := len(h) - h.HeaderLen()
	if h[13]&byte(SYN) != 0 {
		n++
	}
	if h[13]&byte(FIN) != 0 {
		n++
	}
	return n
}

// Verify checks the checksum over the pseudo-header (RFC 9293 3.1) and the
// segment. Unlike UDP's, a zero checksum field is an ordinary value, not
// "none": TCP always carries one (RFC 9293 3.1, MUST-2 and MUST-3).
func (h Header) Verify(src, dst [4]byte) error {
	if checksum.Sum(h, checksum.Pseudo(src, dst, ipv4.ProtoTCP, uint16(len(h)))) != 0xffff {
		return ErrChecksum
	}
	return nil
}

// SetChecksum computes the checksum of the segment h, header and payload,
// over the pseudo-header and writes it in place.
func (h Header) SetChecksum(src, dst [4]byte) {
	h[16], h[17] = 0, 0
	sum := ^checksum.Sum(h, checksum.Pseudo(src, dst, ipv4.ProtoTCP, uint16(len(h))))
	binary.BigEndian.PutUint16(h[16:18], sum)
}

// Fields are the values PutHeader writes.
type Fields struct {
	SrcPort, DstPort uint16
	Seq, Ack         Seq
	Flags            Flags
	Window           uint16 // as sent, already scaled down
	Urgent           uint16

	// GSOSize is not on the wire: when non-zero, the payload is longer
	// than one segment may carry, and the link is to cut it into
	// segments of GSOSize octets each, the last maybe shorter (TCP
	// segmentation offload; Linux's gso_size). See Config.MaxSegment.
	GSOSize int
}

// PutHeader writes a header with the options o (nil for none) at the start
// of b, with a zero checksum field and zero reserved bits, and returns its
// length, HeaderLen + OptionsLen(o). b is the whole segment: its payload,
// if any, is already in place at b[HeaderLen+OptionsLen(o):], so the
// header is built in front of the data without a copy. b must hold at
// least the header. It never allocates.
func PutHeader(b []byte, f Fields, o *Options) int {
	hl := HeaderLen + OptionsLen(o)
	_ = b[hl-1]
	binary.BigEndian.PutUint16(b[0:2], f.SrcPort)
	binary.BigEndian.PutUint16(b[2:4], f.DstPort)
	binary.BigEndian.PutUint32(b[4:8], uint32(f.Seq))
	binary.BigEndian.PutUint32(b[8:12], uint32(f.Ack))
	b[12] = byte(hl/4) << 4
	b[13] = byte(f.Flags)
	binary.BigEndian.PutUint16(b[14:16], f.Window)
	b[16], b[17] = 0, 0
	binary.BigEndian.PutUint16(b[18:20], f.Urgent)
	if o != nil {
		PutOptions(b[HeaderLen:hl], o)
	}
	return hl
}

// Put writes the header as PutHeader does, then the checksum over the
// pseudo-header and all of b, the whole segment: one pass over the data.
// It returns the header length and never allocates.
func Put(b []byte, f Fields, o *Options, src, dst [4]byte) int {
	hl := PutHeader(b, f, o)
	Header(b).SetChecksum(src, dst)
	return hl
}

// String formats the segment for the packet trace, in the manner of
// microps's tcp_dump, with the flags in tcpdump's notation and the options
// as tcpdump prints them.
func (h Header) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "src: %d, dst: %d, seq: %d, ack: %d, off: 0x%02x (%d), flg: 0x%02x [%v], wnd: %d, sum: 0x%04x, up: %d",
		h.SrcPort(), h.DstPort(), h.Seq(), h.Ack(), h[12], h.HeaderLen(), h[13], h.Flags(),
		h.Window(), h.Checksum(), h.Urgent())
	if opts := h.Options(); len(opts) > 0 {
		if o, err := ParseOptions(opts); err != nil {
			fmt.Fprintf(&b, ", opts: [malformed: % x]", opts)
		} else {
			fmt.Fprintf(&b, ", opts: [%v]", &o)
		}
	}
	fmt.Fprintf(&b, ", len: %d", len(h.Payload()))
	return b.String()
}
