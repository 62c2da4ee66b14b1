package ipv4

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"sync/atomic"
)

// idBuckets is the number of counters of an IDGen (RFC 7739 5.3 calls it
// TABLE_LENGTH). More buckets make it less likely that two destinations
// share a counter, so that one cannot learn the IDs sent to the other.
const idBuckets = 4096

// IDGen chooses the identification field of outgoing datagrams so that it
// is not trivially predictable (RFC 6274 3.5; RFC 7739 5.3, the
// hash-based algorithm): a keyed hash of (source, destination, protocol)
// picks one of many counters, each started at a random value, and adds a
// per-triple offset from the same hash. IDs to one destination are
// therefore unique for 65536 datagrams in a row (RFC 6864 4.1 needs that
// only for fragmentable datagrams), while IDs to different destinations
// reveal nothing about each other. Use one IDGen per stack; it is safe for
// concurrent use and Next does not allocate.
type IDGen struct {
	k0, k1   uint64 // SipHash key
	counters [idBuckets]atomic.Uint32
}

// NewIDGen returns a generator with a random key and random counters,
// read from crypto/rand.
func NewIDGen() *IDGen {
	g := new(IDGen)
	var seed [16 + 2*idBuckets]byte
	if _, err := rand.Read(seed[:]); err != nil {
		panic("ipv4: crypto/rand: " + err.Error()) // crypto/rand.Read never fails on supported systems
	}
	g.k0 = binary.LittleEndian.Uint64(seed[0:8])
	g.k1 = binary.LittleEndian.Uint64(seed[8:16])
	for i := range g.counters {
		g.counters[i].Store(uint32(binary.LittleEndian.Uint16(seed[16+2*i:])))
	}
	return g
}

// Next returns the identification for a datagram from src to dst carrying
// proto. Addresses that are not IPv4 are accepted (hashed all the same).
func (g *IDGen) Next(src, dst netip.Addr, proto uint8) uint16 {
	var msg [9]byte
	binary.BigEndian.PutUint32(msg[0:4], addrKey(src))
	binary.BigEndian.PutUint32(msg[4:8], addrKey(dst))
	msg[8] = proto
	h := sipHash24(g.k0, g.k1, msg[:])
	// RFC 7739 5.3: index = G(src, dst, proto, secret) mod TABLE_LENGTH;
	// ID = F(src, dst, proto, secret) + table[index]++. The low bits of
	// one keyed hash give the index and its high bits the offset.
	idx := h % idBuckets
	offset := uint16(h >> 48)
	return offset + uint16(g.counters[idx].Add(1))
}

// addrKey reduces an address to 32 bits: an IPv4 (or IPv4-mapped)
// address is itself; anything else is folded.
func addrKey(a netip.Addr) uint32 {
	a = a.Unmap()
	if a.Is4() {
		return addrUint32(a)
	}
	b := a.As16() // zero for the zero Addr
	return binary.BigEndian.Uint32(b[0:]) ^ binary.BigEndian.Uint32(b[4:]) ^
		binary.BigEndian.Uint32(b[8:]) ^ binary.BigEndian.Uint32(b[12:])
}

// sipHash24 is SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast
// short-input PRF", 2012) of msg under the key (k0, k1).
func sipHash24(k0, k1 uint64, msg []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	n := len(msg)
	for len(msg) >= 8 {
		m := binary.LittleEndian.Uint64(msg)
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
		msg = msg[8:]
	}
	// The last block: the remaining bytes, and the length mod 256 in the
	// top byte.
	m := uint64(n) << 56
	for i, c := range msg {
		m |= uint64(c) << (8 * i)
	}
	v3 ^= m
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m
	v2 ^= 0xff
	for range 4 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

// sipRound is one SipRound.
func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
