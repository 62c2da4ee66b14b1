package tcp

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"time"
)

// SYN cookies (RFC 4987 3.6): when a listener's queue of half-open
// connections is full, it answers a SYN without keeping any state,
// with a SYN-ACK whose initial sequence number, the cookie, encodes what
// it needs to build the connection later, under a MAC only it can
// compute. A peer that completes the handshake returns the cookie, plus
// one, in its ACK; the listener checks it and creates the connection
// then. A flood of SYNs from forged addresses thus fills nothing.
//
// The cookie, the ISS of the SYN-ACK, is laid out as
//
//	 31                               4   3   2   1   0
//	+----------------------------------+-------+-------+
//	|          MAC (28 bits)           | count | MSS   |
//	+----------------------------------+-------+-------+
//
// count is the low two bits of a counter that advances every 64 seconds,
// MSS the index of the peer's MSS, rounded down, in a table of four
// common values, and MAC the first 28 bits of a keyed hash (isn.go: the
// SHA-256 of a secret key and the inputs) of the 4-tuple, the peer's ISN,
// the whole counter and the MSS index. A check reads the two clear fields,
// takes the one counter of the last three whose low bits match (the
// fourth value of those bits is a cookie from the future or one too old),
// and recomputes the MAC: one hash to make a cookie and one to check it,
// where Linux, which hides the counter under a second hash, needs two for
// each; the price is that count and MSS index can be read off the
// SYN-ACK, which tells nothing the peer did not know. A cookie is
// accepted for 128 to 192 seconds after it was made, which covers a
// client's retransmissions of its first data when the ACK of the
// handshake was lost (the data segment carries the cookie too).
//
// An ACK with a random acknowledgment number passes for a given
// 4-tuple and peer ISN with probability 3/4 * 2^-28, about 2^-28.4 (a
// check with a timestamp adds a factor of about 2^-14.4; see below).
//
// The window scale, SACK-permitted and ECN of the SYN do not fit in the
// sequence number. As Linux does (cookie_init_timestamp), when the SYN
// carried timestamps they go in the low 6 bits of the SYN-ACK's TSval,
// which the peer echoes in the TSecr of its ACK:
//
//	bit  5   4    3..0
//	    ECN SACK WScale (15: no window scaling)
//
// The TSval is the stack's TS clock rounded down to a multiple of 64
// with those bits in (never later than the clock, so the connection's
// later TSvals do not go back), plus the connection's TS offset
// (ISNGen.TSOffset). A check subtracts the offset again and accepts the
// echo only when the clock value is at most as old as the cookie can be:
// a TSecr that is not an echo of this listener's TSval for this 4-tuple
// fails the check. Without timestamps only the MSS survives; the
// connection then has no window scaling and no SACK (RFC 4987 3.6 lists
// this loss; RFC 7323 and RFC 2018 require the SYN's option to enable
// either).

// synCookiePeriod is the tick of the cookie counter.
const synCookiePeriod = 64 * time.Second

// synCookieMaxAge is how many periods old a cookie's counter may be.
// Linux's MAX_SYNCOOKIE_AGE is 2 as well, but it rejects a counter that
// many minutes behind, so its cookies live 60 to 120 seconds; these
// live 128 to 192.
const synCookieMaxAge = 2

// Bit layout of a cookie.
const (
	cookieMSSMask   = 0x3 // bits 1..0: MSS index
	cookieCountShft = 2   // bits 3..2: counter modulo 4
	cookieCountMask = 0x3
	cookieMACMask   = 0xfffffff0 // bits 31..4: MAC
)

// Bit layout of the options in a cookie TSval.
const (
	tsOptBits      = 6
	tsOptMask      = 1<<tsOptBits - 1
	tsOptWScale    = 0xf  // bits 3..0: window scale shift, 15 for none
	tsOptSACK      = 0x10 // bit 4: SACK-permitted
	tsOptECN       = 0x20 // bit 5: ECN-setup SYN
	tsOptNoWScale  = tsOptWScale
	tsCookieMaxAge = uint32((synCookieMaxAge+1)*synCookiePeriod/TSTick) + 2*(1<<tsOptBits) - 1
)

// SynParams is what a SYN asked for that a SYN cookie preserves, to be
// recovered from the ACK completing the handshake.
type SynParams struct {
	// MSS is the peer's MSS: the SYN's MSS option, or the default of
	// RFC 9293 3.7.1 (536 for IPv4, 1220 for IPv6) when it had none.
	// A cookie keeps it rounded down to a table entry.
	MSS uint16

	WScale    uint8 // the SYN's window scale shift, when HasWScale
	HasWScale bool

	SACKPermitted bool // the SYN carried SACK-permitted (RFC 2018 2)
	TS            bool // the SYN carried the Timestamps option (RFC 7323 3.2)
	ECN           bool // the SYN was an ECN-setup SYN (RFC 3168 6.1.1)
}

// SynCookies makes and checks SYN cookies. Use one per stack; its methods
// are safe for concurrent use and do not allocate.
//
// It has one secret, a 128-bit key for the MAC. Linux keeps two, one
// for the hash that hides the counter and one for the MAC that includes
// it; this layout has no hidden counter (see the comment at the top of
// syncookie.go) and needs one. The TS clock and the per-connection TS offset come
// from an ISNGen, so that a connection created from a cookie goes on with
// the TSvals its SYN-ACK started.
type SynCookies struct {
	key [prfKeyLen]byte
	g   *ISNGen
}

// NewSynCookies returns SYN cookies with a random key, read from
// crypto/rand, and a TS clock of their own. A stack that sends TSvals
// from an ISNGen uses NewSynCookiesFor instead.
func NewSynCookies() *SynCookies { return NewSynCookiesFor(NewISNGen()) }

// NewSynCookiesFor returns SYN cookies with a random key whose TSvals
// follow g's timestamp clock (ISNGen.TSVal), so that a connection created
// from a cookie sends TSvals that continue those of its SYN-ACK. The
// cookie counter also counts from g's base.
func NewSynCookiesFor(g *ISNGen) *SynCookies {
	c := &SynCookies{g: g}
	rand.Read(c.key[:]) // never fails: crypto/rand.Read crashes the program instead
	return c
}

// Make returns the ISS of a SYN-ACK answering, with a cookie, a SYN from
// remote to local with sequence number peerISN that asked for p, at now;
// and, when p.TS, the TSval of that SYN-ACK, which carries p's window
// scale, SACK-permitted and ECN. The connection's MSS will be p.MSS
// rounded down to the cookie table: for IPv4, 536, 1300, 1440 or 1460
// (Linux's), for IPv6 1220, 1420, 1440 or 8940. ok is false when p.MSS is
// below the smallest entry: the cookie cannot keep an MSS that small, and
// the caller drops the SYN as a full queue would. A window scale above
// MaxWScale is kept as MaxWScale (RFC 7323 2.3).
func (c *SynCookies) Make(local, remote netip.AddrPort, peerISN Seq, p SynParams, now time.Time) (iss Seq, tsval uint32, ok bool) {
	idx, ok := cookieMSSIndex(remote.Addr(), p.MSS)
	if !ok {
		return 0, 0, false
	}
	count := c.counter(now)
	mac := c.mac(local, remote, peerISN, count, idx)
	iss = Seq(mac&cookieMACMask | (count&cookieCountMask)<<cookieCountShft | idx)
	if p.TS {
		opts := uint32(tsOptNoWScale)
		if p.HasWScale {
			opts = uint32(min(p.WScale, MaxWScale))
		}
		if p.SACKPermitted {
			opts |= tsOptSACK
		}
		if p.ECN {
			opts |= tsOptECN
		}
		clock := c.g.TSClock(now)
		raw := clock&^tsOptMask | opts
		if raw > clock {
			// Never ahead of the clock: the TSvals the connection sends
			// later must not be below this one (RFC 7323 5.3 R1).
			raw -= 1 << tsOptBits
		}
		tsval = raw + c.g.TSOffset(local, remote)
	}
	return iss, tsval, true
}

// Check validates the cookie in an ACK from remote to local that
// completes a handshake answered with a cookie, at now: peerISN is the
// ACK's sequence number minus one, ack its acknowledgment number minus
// one (the cookie), and tsecr its TSecr when hasTS. It returns what the
// SYN asked for: the MSS from the table; and, when the ACK carries a
// timestamp, timestamps, window scale, SACK-permitted and ECN as the
// TSval echoed encodes them. Without one, the connection has none of
// these (Linux does the same). A cookie that is not this listener's
// for this 4-tuple and peer ISN, or is more than two periods old, or
// from the future, or whose TSecr echoes no TSval this listener could
// have sent for it, is rejected.
func (c *SynCookies) Check(local, remote netip.AddrPort, peerISN Seq, ack Seq, tsecr uint32, hasTS bool, now time.Time) (SynParams, bool) {
	a := uint32(ack)
	idx := a & cookieMSSMask
	cur := c.counter(now)
	age := (cur - a>>cookieCountShft) & cookieCountMask
	if age > synCookieMaxAge {
		return SynParams{}, false
	}
	if (c.mac(local, remote, peerISN, cur-age, idx)^a)&cookieMACMask != 0 {
		return SynParams{}, false
	}
	p := SynParams{MSS: cookieMSSTable(remote.Addr())[idx]}
	if !hasTS {
		return p, true
	}
	raw := tsecr - c.g.TSOffset(local, remote)
	if c.g.TSClock(now)-raw > tsCookieMaxAge {
		// Ahead of the clock (wrapping to a large difference) or older
		// than the cookie can be: not the TSval of this SYN-ACK.
		return SynParams{}, false
	}
	opts := raw & tsOptMask
	p.TS = true
	// Four bits hold 0 to 14, every shift RFC 7323 2.3 allows, or 15.
	if ws := uint8(opts & tsOptWScale); ws != tsOptNoWScale {
		p.WScale, p.HasWScale = ws, true
	}
	p.SACKPermitted = opts&tsOptSACK != 0
	p.ECN = opts&tsOptECN != 0
	return p, true
}

// counter is the cookie counter at now: whole periods since the base of
// the ISNGen, rounded towards minus infinity, modulo 2^32.
func (c *SynCookies) counter(now time.Time) uint32 {
	return uint32(ticks(now.Sub(c.g.base), synCookiePeriod))
}

// mac is the keyed hash of a cookie's inputs; its top 28 bits go in the
// cookie.
func (c *SynCookies) mac(local, remote netip.AddrPort, peerISN Seq, count, idx uint32) uint32 {
	var buf prfBuf
	n := cookieMsg(&buf, &c.key, local, remote, peerISN, count, idx)
	return buf.sum32(n)
}

// cookieMsg writes the message whose keyed hash is a cookie's MAC and
// returns its length.
func cookieMsg(buf *prfBuf, key *[prfKeyLen]byte, local, remote netip.AddrPort, peerISN Seq, count, idx uint32) int {
	n := buf.tuple(key, prfCookie, local, remote, true)
	binary.BigEndian.PutUint32(buf[n:], uint32(peerISN))
	binary.BigEndian.PutUint32(buf[n+4:], count)
	buf[n+8] = byte(idx)
	return n + 9
}

// cookieMSSTable is the table of MSS values a cookie encodes for a
// connection to remote. Linux's: for IPv4 common MSS values (536, the
// default of RFC 9293 3.7.1; 1300; 1440, Ethernet behind PPPoE and
// tunnels; 1460, Ethernet), for IPv6 MTUs of 1280 (the minimum), 1480,
// 1500 and 9000 less the 60 octets of IPv6 and TCP headers.
func cookieMSSTable(remote netip.Addr) [4]uint16 {
	if remote.Is6() && !remote.Is4In6() {
		return [4]uint16{1220, 1420, 1440, 8940}
	}
	return [4]uint16{536, 1300, 1440, 1460}
}

// cookieMSSIndex returns the index of the largest table entry that is at
// most mss, and false if there is none.
func cookieMSSIndex(remote netip.Addr, mss uint16) (uint32, bool) {
	t := cookieMSSTable(remote)
	for i := len(t) - 1; i >= 0; i-- {
		if mss >= t[i] {
			return uint32(i), true
		}
	}
	return 0, false
}
