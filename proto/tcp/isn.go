package tcp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"
)

// ISNTick is the period of the clock in an initial sequence number: it
// advances once every 4 microseconds, 250,000 times a second (RFC 9293
// 3.4.1), and so wraps in about 4.77 hours.
const ISNTick = 4 * time.Microsecond

// TSTick is the period of the timestamp clock, the TSval a stack sends:
// 1 millisecond, the finest RFC 7323 5.4 allows ("between 1 ms and 1 sec
// per tick") and what Linux uses.
const TSTick = time.Millisecond

// ISNGen chooses initial sequence numbers as RFC 6528 3 specifies,
//
//	ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
//
// where M is a clock ticking every 4 microseconds (RFC 9293 3.4.1) and F
// a keyed pseudo-random function of the connection's 4-tuple. For one
// 4-tuple ISNs thus increase with time, as RFC 9293 3.4.1 wants so that a
// new incarnation does not reuse the old one's sequence numbers, while an
// off-path attacker who does not know the key cannot predict the ISN of a
// connection it is not part of (RFC 6528 2), not even from the ISNs it
// sees on its own connections.
//
// It also keeps the stack's timestamp clock (RFC 7323 5.4): TSClock counts
// milliseconds from the same base, and TSOffset is a keyed random offset
// that hides that clock, and with it the host's uptime, from peers.
//
// Use one ISNGen per stack. Its methods are safe for concurrent use and
// do not allocate.
//
// F is SHA-256 of the 16-octet secret key followed by a fixed-layout
// encoding of the inputs, truncated to 32 bits. Prefixing the key is a
// sound pseudo-random function here because every input of a given kind
// has one encoding whose length is set by the address families it names,
// so no input is an extension of another and the length-extension
// property of SHA-256 gives an attacker nothing; and only 32 bits of the
// digest are ever revealed. RFC 6528 3 suggests MD5 for F; SHA-256 is its
// modern equivalent. It costs one SHA-256 block, about 90 ns on a CPU
// with the SHA extensions: one per connection, where crypto/hmac would
// take several microseconds and allocate, and hash/maphash, though
// faster, is documented as not cryptographically secure, which F must be.
type ISNGen struct {
	key  [prfKeyLen]byte // secretkey of RFC 6528 3
	base time.Time       // M and the TS clock count from here; holds a monotonic reading
}

// NewISNGen returns a generator with a random secret key, read from
// crypto/rand, and its clocks starting now.
func NewISNGen() *ISNGen {
	g := &ISNGen{base: time.Now()}
	rand.Read(g.key[:]) // never fails: crypto/rand.Read crashes the program instead
	return g
}

// ISN returns the initial sequence number for a connection from local to
// remote opened at now. The clock M is now's distance from the moment
// the generator was made, so that a jump of the wall clock does not move
// it when now comes from time.Now (which carries a monotonic reading).
// Over less than 2^31 ticks (about 2.4 hours) the ISNs of one 4-tuple
// increase (Seq.GreaterThan) with now.
func (g *ISNGen) ISN(local, remote netip.AddrPort, now time.Time) Seq {
	// RFC 9293 3.4.1: M is "a 32 bit clock whose low order bit is
	// incremented roughly every 4 microseconds"; RFC 6528 3: ISN = M + F.
	m := uint32(ticks(now.Sub(g.base), ISNTick))
	var buf prfBuf
	n := buf.tuple(&g.key, prfISN, local, remote, true)
	return Seq(m + buf.sum32(n))
}

// TSOffset returns the offset a connection from local to remote adds to
// TSClock to make the TSvals it sends, so that the timestamp clock a peer
// sees starts at a random point and tells nothing of the host's uptime
// or of its clock as other peers see it (RFC 7323 5.4, 7.1).
//
// The offset is a keyed hash of the two addresses only, not the ports, as
// Linux's is (secure_tcp_ts_off): one peer then sees one clock on all the
// connections to it. Peers that keep per-host timestamp state (Linux
// before 4.12 with tcp_tw_recycle, and some middleboxes) reject a SYN
// whose TSval is below the last one they saw from the address, and
// offsets that differ per port would trip them. The TSvals of successive
// connections on one 4-tuple increase, as the PAWS check across
// incarnations needs (RFC 6191).
func (g *ISNGen) TSOffset(local, remote netip.AddrPort) uint32 {
	var buf prfBuf
	n := buf.tuple(&g.key, prfTSOffset, local, remote, false)
	return buf.sum32(n)
}

// TSClock returns the stack's timestamp clock at now: milliseconds
// (TSTick) since the generator was made, modulo 2^32, which wraps after
// about 49.7 days (RFC 7323 5.4 allows any rate from 1 ms to 1 s per
// tick; the clock must only be monotonic and close to proportional to
// real time). A connection sends TSClock(now) + TSOffset(local, remote).
func (g *ISNGen) TSClock(now time.Time) uint32 {
	return uint32(ticks(now.Sub(g.base), TSTick))
}

// TSEpoch is the moment TSClock counts from, for a Config.TSEpoch: a
// connection's TSval at now is TSOffset plus the whole milliseconds from
// TSEpoch to now, rounded as TSClock rounds them.
func (g *ISNGen) TSEpoch() time.Time { return g.base }

// ticks is how many whole ticks d holds, rounded towards minus infinity
// so that a tick is as long before the base as after it.
func ticks(d, tick time.Duration) int64 {
	q := d / tick
	if d%tick < 0 {
		q--
	}
	return int64(q)
}

// TSVal returns the TSval a connection from local to remote sends at now:
// TSClock(now) + TSOffset(local, remote).
func (g *ISNGen) TSVal(local, remote netip.AddrPort, now time.Time) uint32 {
	return g.TSClock(now) + g.TSOffset(local, remote)
}

// prfKeyLen is the length of the secret keys: 128 bits.
const prfKeyLen = 16

// Domain tags: the first octet after the key says what is being hashed,
// so that no output for one purpose is an output for another.
const (
	prfISN      = 'I' // F of RFC 6528 3
	prfTSOffset = 'T' // the timestamp offset
	prfCookie   = 'C' // a SYN cookie's MAC (syncookie.go)
)

// prfMsgMax is the longest message: key, tag, two IPv6 addresses with
// their family octets, two ports, and the SYN cookie's peer ISN, counter
// and MSS index.
const prfMsgMax = prfKeyLen + 1 + 2*(1+16) + 2*2 + 4 + 4 + 1

// prfBuf holds a message for the keyed hash: the key, then the inputs.
type prfBuf [prfMsgMax]byte

// tuple writes key, tag, the two addresses and, when ports, the two
// ports, and returns the length written. Each address is a family octet
// (4, 6, or 0 for the zero Addr) followed by that many address octets: an
// IPv4-mapped IPv6 address counts as the IPv4 address (netip.Addr.Unmap),
// and a zone is left out. The layout is injective: different inputs give
// different messages.
func (b *prfBuf) tuple(key *[prfKeyLen]byte, tag byte, local, remote netip.AddrPort, ports bool) int {
	copy(b[:prfKeyLen], key[:])
	b[prfKeyLen] = tag
	n := prfKeyLen + 1
	n = b.addr(n, local.Addr())
	n = b.addr(n, remote.Addr())
	if ports {
		binary.BigEndian.PutUint16(b[n:], local.Port())
		binary.BigEndian.PutUint16(b[n+2:], remote.Port())
		n += 4
	}
	return n
}

// addr writes a at b[n:] with its family octet and returns the new length.
func (b *prfBuf) addr(n int, a netip.Addr) int {
	a = a.Unmap()
	switch {
	case a.Is4():
		b[n] = 4
		v := a.As4()
		copy(b[n+1:], v[:])
		return n + 1 + 4
	case a.Is6():
		b[n] = 6
		v := a.As16()
		copy(b[n+1:], v[:])
		return n + 1 + 16
	}
	b[n] = 0
	return n + 1
}

// sum32 is the keyed hash of the first n octets: the first 32 bits of
// their SHA-256 digest.
func (b *prfBuf) sum32(n int) uint32 {
	d := sha256.Sum256(b[:n])
	return binary.BigEndian.Uint32(d[:4])
}
