package icmp

import (
	"errors"

	"github.com/stacknet/stacknet/proto/ipv4"
)

// MaxErrorDatagram is the largest IP datagram that carries an ICMP error
// message: RFC 1812 4.3.2.3 says an error SHOULD quote as much of the
// offending datagram as fits without exceeding 576 bytes, and Linux's
// icmp_send caps it there too.
const MaxErrorDatagram = 576

// MaxQuote is the most of an offending datagram an error quotes: what is
// left of MaxErrorDatagram after a 20-byte IP header and the ICMP header.
const MaxQuote = MaxErrorDatagram - ipv4.HeaderLen - HeaderLen

// ErrQuote is returned by Quote when an error's body does not hold an IPv4
// header and the eight bytes after it.
var ErrQuote = errors.New("icmp: quoted datagram too short or not IPv4")

// lastType is the highest type Linux knows (NR_ICMP_TYPES); it sends no
// error about an ICMP message of a higher, unknown type.
const lastType = 18

// QuoteLen returns how many bytes of an offending datagram of n bytes an
// error message quotes: all of them up to MaxQuote (RFC 1812 4.3.2.3,
// more than the IP header and 64 bits RFC 792 asks for).
func QuoteLen(n int) int { return min(n, MaxQuote) }

// FragNeededRest builds the rest-of-header word of a destination
// unreachable, fragmentation needed (code 4) message: zero, then the
// next-hop MTU in the low 16 bits (RFC 1191 section 4).
func FragNeededRest(mtu uint16) uint32 { return uint32(mtu) }

// ParamProblemRest builds the rest-of-header word of a parameter problem
// message: the pointer to the offending octet in the high byte (RFC 792).
func ParamProblemRest(pointer uint8) uint32 { return uint32(pointer) << 24 }

// Pointer is the octet a parameter problem message points at (RFC 792).
func (m Message) Pointer() uint8 { return m[4] }

// AppendError appends to b an ICMP error message of type typ and code
// code, with rest-of-header word rest, that quotes the first
// QuoteLen(len(dgram)) bytes of the offending IP datagram dgram, and
// returns the extended slice. It allocates only if b lacks capacity.
// Whether the error may be sent at all is MaySendError's question.
func AppendError(b []byte, typ, code uint8, rest uint32, dgram []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, HeaderLen)...)
	b = append(b, dgram[:QuoteLen(len(dgram))]...)
	Put(b[start:], typ, code, rest)
	return b
}

// MaySendError reports whether the stack may send an ICMP error message
// about the received datagram dgram. broadcast is true if dgram arrived
// as a link-layer broadcast or was addressed to an IP broadcast address of
// the receiving interface (a directed broadcast), which only the caller
// knows; the limited broadcast 255.255.255.255 and multicast destinations
// are recognised here.
//
// RFC 1122 3.2.2 (and RFC 1812 4.3.2.7): an ICMP error message MUST NOT
// be sent as the result of receiving
//   - an ICMP error message (or, as in Linux, an ICMP message of a type
//     unknown to us, which might be one),
//   - a datagram destined to an IP broadcast or multicast address,
//   - a datagram sent as a link-layer broadcast,
//   - a non-initial fragment,
//   - a datagram whose source address does not define a single host: a
//     zero (0.0.0.0/8), broadcast, multicast or Class E (240.0.0.0/4)
//     address.
//
// A loopback source is not refused here: datagrams from 127.0.0.0/8 are
// legitimate on the loopback interface, where Linux answers them (that is
// how a connected UDP socket learns ECONNREFUSED on localhost); IP drops
// them as martians on other interfaces before they get here.
//
// Rate limiting (RFC 1812 4.3.2.8) is RateLimiter's business.
func MaySendError(dgram ipv4.Header, broadcast bool) bool {
	if broadcast {
		return false
	}
	src, dst := dgram.Src4(), dgram.Dst4()
	// RFC 1122 3.2.2: not to a broadcast or multicast destination.
	if dst == [4]byte{255, 255, 255, 255} || dst[0]&0xf0 == 0xe0 {
		return false
	}
	// RFC 1122 3.2.2: source must define a single host. 0/8 is "this
	// network"; 224/4 multicast; 240/4 Class E, which holds the limited
	// broadcast address.
	if src[0] == 0 || src[0] >= 224 {
		return false
	}
	// RFC 1122 3.2.2: not about a non-initial fragment.
	if dgram.FragOffset() != 0 {
		return false
	}
	// RFC 1122 3.2.2: not about an ICMP error message.
	if dgram.Protocol() == ipv4.ProtoICMP {
		p := dgram.Payload()
		if len(p) == 0 || p[0] > lastType || IsErrorType(p[0]) {
			return false
		}
	}
	return true
}

// Quote returns the offending datagram quoted by an error message: its IP
// header (cut to the header length, options included) and the transport
// bytes after it, at least eight (RFC 792: "the internet header plus the
// first 64 bits of the original datagram's data"), enough for the ports
// of UDP and TCP. It checks only that the quote is long enough and has
// version 4 and a sane header length; the quoted header's checksum and
// total length are not checked, since the quote is usually truncated. It
// never allocates.
func (m Message) Quote() (ip ipv4.Header, transport []byte, err error) {
	q := m.Body()
	if len(q) < ipv4.HeaderLen || q[0]>>4 != 4 {
		return nil, nil, ErrQuote
	}
	hl := int(q[0]&0x0f) * 4
	if hl < ipv4.HeaderLen || len(q) < hl+8 {
		return nil, nil, ErrQuote
	}
	return ipv4.Header(q[:hl]), q[hl:], nil
}
