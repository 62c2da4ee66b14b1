// Package checksum computes the Internet checksum of RFC 1071, used by IPv4,
// ICMP, UDP and TCP.
//
// The sum is accumulated 64 bits at a time and folded at the end, which
// RFC 1071 section 2 (B) permits: ones'-complement addition is associative
// and commutative, so wider words give the same folded result.
package checksum

import (
	"encoding/binary"
	"math/bits"
)

// Sum returns the ones'-complement sum of b, added to initial, folded to 16
// bits. It is not complemented: the checksum field of a header is
// ^Sum(header, 0). An odd final byte is padded with a zero, as RFC 1071
// says.
func Sum(b []byte, initial uint16) uint16 {
	var acc, carry uint64
	acc = uint64(initial)
	for len(b) >= 32 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[0:8]), 0)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[8:16]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[16:24]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[24:32]), carry)
		acc += carry
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b), 0)
		acc += carry
		b = b[8:]
	}
	if len(b) >= 4 {
		acc, carry = bits.Add64(acc, uint64(binary.BigEndian.Uint32(b)), 0)
		acc += carry
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, carry = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b)), 0)
		acc += carry
		b = b[2:]
	}
	if len(b) == 1 {
		acc, carry = bits.Add64(acc, uint64(b[0])<<8, 0)
		acc += carry
	}
	return fold(acc)
}

// fold reduces a 64-bit ones'-complement sum to 16 bits.
func fold(acc uint64) uint16 {
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	return uint16(acc)
}

// Combine adds two partial sums.
func Combine(a, b uint16) uint16 {
	s := uint32(a) + uint32(b)
	return uint16(s>>16 + s&0xffff)
}

// Pseudo returns the partial sum of the IPv4 pseudo-header that UDP and TCP
// cover (RFC 768, RFC 9293 3.1): source, destination, zero, protocol and
// the transport length.
func Pseudo(src, dst [4]byte, proto uint8, length uint16) uint16 {
	acc := uint64(binary.BigEndian.Uint32(src[:])) +
		uint64(binary.BigEndian.Uint32(dst[:])) +
		uint64(proto) + uint64(length)
	return fold(acc)
}
