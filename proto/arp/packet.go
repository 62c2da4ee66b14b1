package arp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/stacknet/stacknet/proto/ether"
)

// PacketLen is the length of an ARP packet for IPv4 over Ethernet.
const PacketLen = 28

// Operations (RFC 826).
const (
	OpRequest uint16 = 1
	OpReply   uint16 = 2
)

const (
	hrdEthernet = 1
	proIPv4     = 0x0800
)

// Errors returned by Parse; each is a reason a packet is dropped.
var (
	ErrShort       = errors.New("arp: packet shorter than 28 bytes")
	ErrUnsupported = errors.New("arp: not IPv4 over Ethernet")
	ErrOp          = errors.New("arp: unknown operation")
)

// Packet is a view of an ARP packet for IPv4 over Ethernet (RFC 826).
type Packet []byte

// Parse checks that b is an ARP request or reply mapping IPv4 addresses to
// Ethernet ones, and returns a view of its 28 bytes.
func Parse(b []byte) (Packet, error) {
	if len(b) < PacketLen {
		return nil, ErrShort
	}
	if binary.BigEndian.Uint16(b[0:2]) != hrdEthernet || binary.BigEndian.Uint16(b[2:4]) != proIPv4 ||
		b[4] != 6 || b[5] != 4 {
		return nil, ErrUnsupported
	}
	p := Packet(b[:PacketLen])
	if op := p.Op(); op != OpRequest && op != OpReply {
		return nil, ErrOp
	}
	return p, nil
}

// Op is the operation: OpRequest or OpReply.
func (p Packet) Op() uint16 { return binary.BigEndian.Uint16(p[6:8]) }

// SHA is the sender hardware address.
func (p Packet) SHA() ether.Addr { return ether.Addr(p[8:14]) }

// SPA is the sender protocol address.
func (p Packet) SPA() netip.Addr { return netip.AddrFrom4([4]byte(p[14:18])) }

// THA is the target hardware address.
func (p Packet) THA() ether.Addr { return ether.Addr(p[18:24]) }

// TPA is the target protocol address.
func (p Packet) TPA() netip.Addr { return netip.AddrFrom4([4]byte(p[24:28])) }

// Put writes a packet into the first PacketLen bytes of b. The protocol
// addresses spa and tpa must be IPv4 (or IPv4-mapped) addresses.
func Put(b []byte, op uint16, sha ether.Addr, spa netip.Addr, tha ether.Addr, tpa netip.Addr) {
	_ = b[PacketLen-1]
	binary.BigEndian.PutUint16(b[0:2], hrdEthernet)
	binary.BigEndian.PutUint16(b[2:4], proIPv4)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:8], op)
	copy(b[8:14], sha[:])
	s, t := spa.As4(), tpa.As4()
	copy(b[14:18], s[:])
	copy(b[18:24], tha[:])
	copy(b[24:28], t[:])
}

// String formats the packet for the packet trace, as microps's arp_dump.
func (p Packet) String() string {
	op := "request"
	if p.Op() == OpReply {
		op = "reply"
	}
	return fmt.Sprintf("hrd: 0x%04x, pro: 0x%04x, hln: %d, pln: %d, op: %d (%s), sha: %v, spa: %v, tha: %v, tpa: %v",
		binary.BigEndian.Uint16(p[0:2]), binary.BigEndian.Uint16(p[2:4]), p[4], p[5], p.Op(), op,
		p.SHA(), p.SPA(), p.THA(), p.TPA())
}
