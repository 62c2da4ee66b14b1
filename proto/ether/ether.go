package ether

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// HeaderLen is the length of an untagged Ethernet II header.
const HeaderLen = 14

// MinFrameLen is the shortest frame on the wire, without the FCS: shorter
// frames are padded by the sender.
const MinFrameLen = 60

// Type is an EtherType.
type Type uint16

// EtherTypes the stack knows.
const (
	TypeIPv4 Type = 0x0800
	TypeARP  Type = 0x0806
	TypeVLAN Type = 0x8100 // IEEE 802.1Q tag
	TypeQinQ Type = 0x88a8 // IEEE 802.1ad service tag
	TypeIPv6 Type = 0x86dd
)

func (t Type) String() string {
	switch t {
	case TypeIPv4:
		return "IPv4"
	case TypeARP:
		return "ARP"
	case TypeVLAN:
		return "802.1Q"
	case TypeQinQ:
		return "802.1ad"
	case TypeIPv6:
		return "IPv6"
	}
	return fmt.Sprintf("0x%04x", uint16(t))
}

// Addr is a MAC address. It is a comparable value and never allocates.
type Addr [6]byte

// Broadcast is ff:ff:ff:ff:ff:ff.
var Broadcast = Addr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// AddrFrom converts a net.HardwareAddr of six bytes; ok is false otherwise.
func AddrFrom(hw net.HardwareAddr) (a Addr, ok bool) {
	if len(hw) != 6 {
		return a, false
	}
	copy(a[:], hw)
	return a, true
}

// IsBroadcast reports whether a is ff:ff:ff:ff:ff:ff.
func (a Addr) IsBroadcast() bool { return a == Broadcast }

// IsMulticast reports whether the group bit is set (broadcast included).
func (a Addr) IsMulticast() bool { return a[0]&1 != 0 }

// IsZero reports whether a is 00:00:00:00:00:00.
func (a Addr) IsZero() bool { return a == Addr{} }

// HardwareAddr returns a as a net.HardwareAddr. It allocates.
func (a Addr) HardwareAddr() net.HardwareAddr { return net.HardwareAddr(a[:]) }

func (a Addr) String() string {
	const hex = "0123456789abcdef"
	var b [17]byte
	for i, c := range a {
		if i > 0 {
			b[i*3-1] = ':'
		}
		b[i*3] = hex[c>>4]
		b[i*3+1] = hex[c&0xf]
	}
	return string(b[:])
}

// MinType is the smallest value of the type/length field that is an
// EtherType. IEEE 802.3 clause 3.2.6: values up to 1500 are the length of
// an 802.3 frame, values from 1536 (0x0600) up are types, and the values
// in between are undefined.
const MinType Type = 0x0600

// Errors returned by Parse; each is a reason a frame is dropped.
var (
	ErrShort  = errors.New("ether: frame shorter than its header")
	ErrLength = errors.New("ether: 802.3 length field, not an EtherType")
)

// Header is a parsed Ethernet header. A frame with one 802.1Q (or 802.1ad)
// tag is recognised: Tagged is set, TPID is the tag's own EtherType
// (TypeVLAN or TypeQinQ), TCI holds the tag control information, and Type
// is the EtherType inside the tag. Len is the number of bytes the header
// occupies in the frame: 14, or 18 when tagged.
type Header struct {
	Dst, Src Addr
	Type     Type
	Tagged   bool
	TPID     Type
	TCI      uint16
	Len      int
}

// VLAN returns the VLAN identifier of a tagged frame (0 for a
// priority-tagged frame or an untagged one).
func (h *Header) VLAN() uint16 { return h.TCI & 0x0fff }

// Parse decodes the header at the start of frame. It never allocates and
// never panics; frame[h.Len:] is the payload. Frames whose type/length
// field (the outer one, or the one inside a tag) is below MinType hold an
// IEEE 802.3 length, or an undefined value, in place of an EtherType; they
// are rejected with ErrLength, with the rest of h filled in: the stack
// speaks only Ethernet II.
func Parse(frame []byte) (h Header, err error) {
	if len(frame) < HeaderLen {
		return h, ErrShort
	}
	copy(h.Dst[:], frame[0:6])
	copy(h.Src[:], frame[6:12])
	h.Type = Type(binary.BigEndian.Uint16(frame[12:14]))
	h.Len = HeaderLen
	if h.Type == TypeVLAN || h.Type == TypeQinQ {
		if len(frame) < HeaderLen+4 {
			return h, ErrShort
		}
		h.Tagged = true
		h.TPID = h.Type
		h.TCI = binary.BigEndian.Uint16(frame[14:16])
		h.Type = Type(binary.BigEndian.Uint16(frame[16:18]))
		h.Len = HeaderLen + 4
	}
	if h.Type < MinType {
		return h, ErrLength
	}
	return h, nil
}

// Put writes an untagged header at the start of b, which must be at least
// HeaderLen bytes long.
func Put(b []byte, dst, src Addr, t Type) {
	_ = b[HeaderLen-1]
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], uint16(t))
}

// SetDst rewrites the destination address of a frame built with Put.
func SetDst(b []byte, dst Addr) { copy(b[0:6], dst[:]) }

// String formats the header for the packet trace.
func (h Header) String() string {
	if h.Tagged {
		return fmt.Sprintf("dst: %v, src: %v, vlan: %d (tci: 0x%04x), type: 0x%04x (%v)",
			h.Dst, h.Src, h.VLAN(), h.TCI, uint16(h.Type), h.Type)
	}
	return fmt.Sprintf("dst: %v, src: %v, type: 0x%04x (%v)", h.Dst, h.Src, uint16(h.Type), h.Type)
}
