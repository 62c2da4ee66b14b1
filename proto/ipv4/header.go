package ipv4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/stacknet/stacknet/proto/checksum"
)

// HeaderLen is the length of a header without options.
const HeaderLen = 20

// MaxHeaderLen is the longest header (IHL 15).
const MaxHeaderLen = 60

// MaxDatagram is the largest total length.
const MaxDatagram = 65535

// Protocol numbers (IANA "Assigned Internet Protocol Numbers").
const (
	ProtoICMP uint8 = 1
	ProtoTCP  uint8 = 6
	ProtoUDP  uint8 = 17
)

// Flag bits, in the position they hold in the flags-and-offset word.
const (
	FlagDF  = 0x4000 // don't fragment
	FlagMF  = 0x2000 // more fragments
	offMask = 0x1fff
)

// Errors returned by Parse; each is a reason a datagram is dropped.
var (
	ErrShort        = errors.New("ipv4: datagram shorter than a header")
	ErrVersion      = errors.New("ipv4: version is not 4")
	ErrHeaderLength = errors.New("ipv4: header length below 20 or beyond the datagram")
	ErrTotalLength  = errors.New("ipv4: total length disagrees with the frame")
	ErrChecksum     = errors.New("ipv4: bad header checksum")
)

// Header is a view of an IPv4 datagram (RFC 791 3.1), header and payload.
// A Header returned by Parse has been validated, so no accessor panics.
type Header []byte

// Parse validates b as an IPv4 datagram and returns a view of it cut to
// its total length (the link may have padded the frame). It checks the
// version, the header length, the total length against len(b) and the
// header checksum. It never allocates.
func Parse(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return nil, ErrShort
	}
	if b[0]>>4 != 4 {
		return nil, ErrVersion
	}
	hl := int(b[0]&0x0f) * 4
	if hl < HeaderLen || hl > len(b) {
		return nil, ErrHeaderLength
	}
	tl := int(binary.BigEndian.Uint16(b[2:4]))
	if tl < hl || tl > len(b) {
		return nil, ErrTotalLength
	}
	if checksum.Sum(b[:hl], 0) != 0xffff {
		return nil, ErrChecksum
	}
	return Header(b[:tl]), nil
}

// Version is the version field (4 after Parse).
func (h Header) Version() uint8 { return h[0] >> 4 }

// HeaderLen is the header length in bytes, options included.
func (h Header) HeaderLen() int { return int(h[0]&0x0f) * 4 }

// TOS is the type-of-service (DSCP and ECN) byte.
func (h Header) TOS() uint8 { return h[1] }

// TotalLen is the total length field.
func (h Header) TotalLen() int { return int(binary.BigEndian.Uint16(h[2:4])) }

// ID is the identification field.
func (h Header) ID() uint16 { return binary.BigEndian.Uint16(h[4:6]) }

// FlagsOffset is the raw flags-and-fragment-offset word.
func (h Header) FlagsOffset() uint16 { return binary.BigEndian.Uint16(h[6:8]) }

// DF reports whether the don't-fragment flag is set.
func (h Header) DF() bool { return h.FlagsOffset()&FlagDF != 0 }

// MF reports whether the more-fragments flag is set.
func (h Header) MF() bool { return h.FlagsOffset()&FlagMF != 0 }

// FragOffset is the fragment offset in bytes.
func (h Header) FragOffset() int { return int(h.FlagsOffset()&offMask) * 8 }

// IsFragment reports whether h is one fragment of a larger datagram.
func (h Header) IsFragment() bool { return h.FlagsOffset()&(FlagMF|offMask) != 0 }

// TTL is the time-to-live field.
func (h Header) TTL() uint8 { return h[8] }

// Protocol is the protocol field.
func (h Header) Protocol() uint8 { return h[9] }

// Checksum is the header checksum field.
func (h Header) Checksum() uint16 { return binary.BigEndian.Uint16(h[10:12]) }

// Src is the source address.
func (h Header) Src() netip.Addr { return netip.AddrFrom4([4]byte(h[12:16])) }

// Dst is the destination address.
func (h Header) Dst() netip.Addr { return netip.AddrFrom4([4]byte(h[16:20])) }

// Src4 and Dst4 return the addresses as arrays, for the pseudo-header.
func (h Header) Src4() [4]byte { return [4]byte(h[12:16]) }

// Dst4 returns the destination address as an array.
func (h Header) Dst4() [4]byte { return [4]byte(h[16:20]) }

// Options returns the options bytes, if any.
func (h Header) Options() []byte { return h[HeaderLen:h.HeaderLen()] }

// Payload returns the bytes after the header.
func (h Header) Payload() []byte { return h[h.HeaderLen():] }

// DecTTL decrements the TTL and patches the checksum incrementally, as a
// router does (RFC 1812 5.3.1; RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'),
// where m is the 16-bit word holding the TTL and m' its new value). A TTL
// of 0 wraps to 255 with the checksum still valid; a router drops such a
// datagram before it gets here.
func (h Header) DecTTL() {
	m := binary.BigEndian.Uint16(h[8:10])
	h[8]--
	m1 := binary.BigEndian.Uint16(h[8:10])
	sum := uint32(^h.Checksum()) + uint32(^m) + uint32(m1)
	sum = (sum >> 16) + (sum & 0xffff)
	sum = (sum >> 16) + (sum & 0xffff)
	binary.BigEndian.PutUint16(h[10:12], ^uint16(sum))
}

// Fields are the values PutHeader writes.
type Fields struct {
	TOS      uint8
	TotalLen int // header and payload
	ID       uint16
	Flags    uint16 // FlagDF, FlagMF
	FragOff  int    // in bytes, a multiple of 8
	TTL      uint8
	Protocol uint8
	Src, Dst netip.Addr
}

// PutHeader writes a 20-byte header (no options) with its checksum at the
// start of b. Src and Dst must be IPv4 addresses (or IPv4-mapped IPv6
// ones); b must hold at least HeaderLen bytes.
func PutHeader(b []byte, f Fields) {
	_ = b[HeaderLen-1]
	b[0] = 0x45
	b[1] = f.TOS
	binary.BigEndian.PutUint16(b[2:4], uint16(f.TotalLen))
	binary.BigEndian.PutUint16(b[4:6], f.ID)
	binary.BigEndian.PutUint16(b[6:8], f.Flags&(FlagDF|FlagMF)|uint16(f.FragOff/8)&offMask)
	b[8] = f.TTL
	b[9] = f.Protocol
	b[10], b[11] = 0, 0
	src, dst := f.Src.As4(), f.Dst.As4()
	copy(b[12:16], src[:])
	copy(b[16:20], dst[:])
	binary.BigEndian.PutUint16(b[10:12], ^checksum.Sum(b[:HeaderLen], 0))
}

// SetChecksum recomputes the header checksum in place.
func (h Header) SetChecksum() {
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:12], ^checksum.Sum(h[:h.HeaderLen()], 0))
}

// String formats the header for the packet trace, in the manner of
// microps's ip_dump.
func (h Header) String() string {
	fo := h.FlagsOffset()
	return fmt.Sprintf("vhl: 0x%02x [v: %d, hl: %d (%d)], tos: 0x%02x, total: %d, id: %d, "+
		"offset: 0x%04x [flags=%x, offset=%d], ttl: %d, protocol: %d, sum: 0x%04x, src: %v, dst: %v",
		h[0], h.Version(), h[0]&0x0f, h.HeaderLen(), h.TOS(), h.TotalLen(), h.ID(),
		fo, fo>>13, h.FragOffset(), h.TTL(), h.Protocol(), h.Checksum(), h.Src(), h.Dst())
}
