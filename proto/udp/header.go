package udp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/stacknet/stacknet/proto/checksum"
	"github.com/stacknet/stacknet/proto/ipv4"
)

// HeaderLen is the length of a UDP header.
const HeaderLen = 8

// MaxPayload is the largest payload of a UDP datagram over IPv4:
// 65535 - 20 (IPv4 header) - 8.
const MaxPayload = ipv4.MaxDatagram - ipv4.HeaderLen - HeaderLen

// Errors returned by Parse and Verify; each is a reason a datagram is dropped.
var (
	ErrShort    = errors.New("udp: datagram shorter than its header")
	ErrLength   = errors.New("udp: length field disagrees with the datagram")
	ErrChecksum = errors.New("udp: bad checksum")
)

// Header is a view of a UDP datagram, header and payload (RFC 768).
type Header []byte

// Parse checks that b holds a UDP header whose length field fits within b
// and returns a view cut to that length. It does not verify the checksum:
// that needs the IP addresses (see Verify).
func Parse(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return nil, ErrShort
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if n < HeaderLen || n > len(b) {
		return nil, ErrLength
	}
	return Header(b[:n]), nil
}

// SrcPort is the source port.
func (h Header) SrcPort() uint16 { return binary.BigEndian.Uint16(h[0:2]) }

// DstPort is the destination port.
func (h Header) DstPort() uint16 { return binary.BigEndian.Uint16(h[2:4]) }

// Length is the length field: header and payload.
func (h Header) Length() int { return int(binary.BigEndian.Uint16(h[4:6])) }

// Checksum is the checksum field; zero means the sender computed none.
func (h Header) Checksum() uint16 { return binary.BigEndian.Uint16(h[6:8]) }

// Payload is the data after the header.
func (h Header) Payload() []byte { return h[HeaderLen:] }

// Verify checks the checksum over the pseudo-header and the datagram. A
// zero checksum field means none was computed (RFC 768) and is accepted.
func (h Header) Verify(src, dst [4]byte) error {
	if h.Checksum() == 0 {
		return nil
	}
	sum := checksum.Sum(h, checksum.Pseudo(src, dst, ipv4.ProtoUDP, uint16(len(h))))
	if sum != 0xffff {
		return ErrChecksum
	}
	return nil
}

// Put writes a header at the start of b for a datagram of len(b) bytes
// (header included, payload already in place) and computes its checksum.
// A computed checksum of zero is sent as 0xffff (RFC 768).
func Put(b []byte, src, dst [4]byte, sport, dport uint16) {
	binary.BigEndian.PutUint16(b[0:2], sport)
	binary.BigEndian.PutUint16(b[2:4], dport)
	binary.BigEndian.PutUint16(b[4:6], uint16(len(b)))
	b[6], b[7] = 0, 0
	sum := ^checksum.Sum(b, checksum.Pseudo(src, dst, ipv4.ProtoUDP, uint16(len(b))))
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(b[6:8], sum)
}

// String formats the header for the packet trace.
func (h Header) String() string {
	return fmt.Sprintf("src: %d, dst: %d, len: %d, sum: 0x%04x", h.SrcPort(), h.DstPort(), h.Length(), h.Checksum())
}
