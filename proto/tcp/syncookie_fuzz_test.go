package tcp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// fuzzCookies are SYN cookies with fixed keys and base, so that a failing
// input reproduces.
func fuzzCookies() *SynCookies {
	g := &ISNGen{base: time.Unix(1700000000, 0)}
	c := &SynCookies{g: g}
	for i := range prfKeyLen {
		g.key[i] = byte(i + 1)
		c.key[i] = byte(0xa0 + i)
	}
	return c
}

// canon is a as the cookie should see it: an IPv4-mapped address as the
// IPv4 address, no zone.
func canon(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap().WithZone(""), a.Port())
}

// fuzzAddr is b as an address: 4 or 16 octets, else the zero Addr.
func fuzzAddr(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a
}

// mutateAddr returns an address that differs from a, also once both are
// unmapped: one octet changed, or 0.0.0.0 for the zero Addr.
func mutateAddr(a netip.Addr, delta uint32) netip.Addr {
	if !a.IsValid() {
		return netip.IPv4Unspecified()
	}
	b := a.AsSlice()
	b[int(delta)%len(b)] ^= byte(delta>>8) | 1
	m, _ := netip.AddrFromSlice(b)
	return m
}

// cookieCollision reports whether Check's acceptance of ack for the given
// inputs, which differ from those the cookie was made for (made, the MAC
// message of Make), is a collision of the 28-bit MAC: the message Check
// hashed differs from made (were it equal, the encoding would have lost
// the difference), yet the first 28 bits of its digest, computed here
// directly, equal the cookie's. A 32-bit cookie allows such forgeries
// with probability 2^-28; anything else that is accepted is a bug.
func cookieCollision(c *SynCookies, made []byte, local, remote netip.AddrPort, peer, ack Seq, now time.Time) bool {
	a := uint32(ack)
	count := c.counter(now) - (c.counter(now)-a>>cookieCountShft)&cookieCountMask
	var buf prfBuf
	n := cookieMsg(&buf, &c.key, local, remote, peer, count, a&cookieMSSMask)
	d := sha256.Sum256(buf[:n])
	return !bytes.Equal(buf[:n], made) && (binary.BigEndian.Uint32(d[:4])^a)&cookieMACMask == 0
}

// FuzzSynCookieCheck: Check never panics on any input, and what it accepts
// is well formed; a cookie made for a 4-tuple and peer ISN passes for
// them while young enough and fails once too old; and it fails for any
// other tuple, peer ISN or cookie value, short of a MAC collision.
func FuzzSynCookieCheck(f *testing.F) {
	v4l, v4r := testLocal4.Addr().AsSlice(), testRemote4.Addr().AsSlice()
	v6l, v6r := testLocal6.Addr().AsSlice(), testRemote6.Addr().AsSlice()
	mapped := netip.MustParseAddr("::ffff:198.51.100.7").AsSlice()
	f.Add(v4l, v4r, uint16(80), uint16(40000), uint32(1), uint16(1460), uint8(0xff), int64(0), uint32(0), uint32(0), uint32(0), false, uint8(0), uint32(1))
	f.Add(v4l, v4r, uint16(80), uint16(40000), uint32(0xffffffff), uint16(1400), uint8(0x57), int64(time.Hour), uint32(191999), uint32(0xdeadbeef), uint32(7), true, uint8(1), uint32(0x1234))
	f.Add(v6l, v6r, uint16(443), uint16(1), uint32(99), uint16(9000), uint8(0x4e), int64(-time.Minute), uint32(200000), uint32(5), uint32(5), true, uint8(4), uint32(7))
	f.Add(v4l, mapped, uint16(1), uint16(2), uint32(3), uint16(535), uint8(0x40), int64(63*time.Second), uint32(65000), uint32(0), uint32(0), false, uint8(5), uint32(0))
	f.Add([]byte{}, []byte{1, 2, 3}, uint16(0), uint16(0), uint32(0), uint16(0), uint8(0), int64(0), uint32(0), uint32(0), uint32(0), true, uint8(6), uint32(0))
	c := fuzzCookies()
	f.Fuzz(func(t *testing.T, la, ra []byte, lport, rport uint16, peer uint32, mss uint16, opts uint8,
		at int64, afterMs uint32, ack, tsecr uint32, hasTS bool, field uint8, delta uint32) {
		local := netip.AddrPortFrom(fuzzAddr(la), lport)
		remote := netip.AddrPortFrom(fuzzAddr(ra), rport)
		made := c.g.base.Add(time.Duration(at % int64(100*365*24*time.Hour)))
		now := made.Add(time.Duration(afterMs) * time.Millisecond)
		table := cookieMSSTable(remote.Addr())

		// Any input: no panic, and an accepted cookie is well formed.
		if p, ok := c.Check(local, remote, Seq(peer), Seq(ack), tsecr, hasTS, now); ok {
			if p.MSS != table[ack&cookieMSSMask] || p.WScale > MaxWScale || (!p.HasWScale && p.WScale != 0) ||
				p.TS != hasTS || (!hasTS && p != SynParams{MSS: p.MSS}) {
				t.Fatalf("Check accepted %#x and returned %+v", ack, p)
			}
		}

		// A cookie made here.
		want := SynParams{
			MSS: mss, WScale: opts & 0xf, HasWScale: opts&0x10 != 0,
			SACKPermitted: opts&0x20 != 0, TS: opts&0x40 != 0, ECN: opts&0x80 != 0,
		}
		iss, tsval, ok := c.Make(local, remote, Seq(peer), want, made)
		idx, canEncode := cookieMSSIndex(remote.Addr(), mss)
		if ok != canEncode {
			t.Fatalf("Make ok %v for MSS %d to %v", ok, mss, remote)
		}
		if !ok {
			return
		}
		want.MSS = table[idx]
		if !want.HasWScale {
			want.WScale = 0
		}
		want = recovered(want, hasTS)
		var mbuf prfBuf
		makeMsg := mbuf[:cookieMsg(&mbuf, &c.key, local, remote, Seq(peer), c.counter(made), uint32(iss)&cookieMSSMask)]

		// Checked afterMs later: good while the counter is at most two
		// periods on, the counter reckoned here from the durations.
		d0, d1 := made.Sub(c.g.base), now.Sub(c.g.base)
		young := floorDiv(d1, synCookiePeriod)-floorDiv(d0, synCookiePeriod) <= synCookieMaxAge
		echo := tsval
		if !want.TS {
			echo = 0
		}
		got, ok := c.Check(local, remote, Seq(peer), iss, echo, want.TS, now)
		switch {
		case young && (!ok || got != want):
			t.Fatalf("cookie %#x checked %d ms later: %+v, %v; want %+v", uint32(iss), afterMs, got, ok, want)
		case !young && ok && !cookieCollision(c, makeMsg, local, remote, Seq(peer), iss, now):
			t.Fatalf("cookie %#x accepted %d ms later", uint32(iss), afterMs)
		}

		// The cookie with one input changed, checked at once.
		l, r, p, a := local, remote, Seq(peer), iss
		switch field % 7 {
		case 0:
			l = netip.AddrPortFrom(mutateAddr(l.Addr(), delta), l.Port())
		case 1:
			r = netip.AddrPortFrom(mutateAddr(r.Addr(), delta), r.Port())
		case 2:
			l = netip.AddrPortFrom(l.Addr(), l.Port()^(uint16(delta)|1))
		case 3:
			r = netip.AddrPortFrom(r.Addr(), r.Port()^(uint16(delta)|1))
		case 4:
			p += Seq(delta | 1)
		case 5:
			a ^= Seq(delta)
		case 6:
			l, r = r, l
		}
		if canon(l) == canon(local) && canon(r) == canon(remote) && p == Seq(peer) && a == iss {
			return // swapped equal addresses: nothing changed
		}
		if got, ok := c.Check(l, r, p, a, 0, false, made); ok && !cookieCollision(c, makeMsg, l, r, p, a, made) {
			t.Fatalf("cookie %#x for %v > %v peer ISN %d accepted as %#x for %v > %v peer ISN %d: %+v",
				uint32(iss), remote, local, peer, uint32(a), r, l, p, got)
		}
	})
}

// floorDiv is a / b rounded towards minus infinity, written apart from
// the code under test.
func floorDiv(a, b time.Duration) int64 {
	q, r := int64(a/b), a%b
	if r != 0 && (r < 0) != (b < 0) {
		q--
	}
	return q
}
