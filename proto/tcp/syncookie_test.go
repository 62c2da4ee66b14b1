package tcp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// cookieTables are the MSS tables, spelled out independently of the code.
var cookieTables = []struct {
	name          string
	local, remote netip.AddrPort
	mss           [4]uint16
}{
	{"v4", testLocal4, testRemote4, [4]uint16{536, 1300, 1440, 1460}},
	{"v6", testLocal6, testRemote6, [4]uint16{1220, 1420, 1440, 8940}},
}

// synParamsCombos are the option combinations a SYN can ask for.
func synParamsCombos() []SynParams {
	var ps []SynParams
	for _, ws := range []int{-1, 0, 1, 7, 14} {
		for _, sack := range []bool{false, true} {
			for _, ts := range []bool{false, true} {
				for _, ecn := range []bool{false, true} {
					p := SynParams{SACKPermitted: sack, TS: ts, ECN: ecn}
					if ws >= 0 {
						p.WScale, p.HasWScale = uint8(ws), true
					}
					ps = append(ps, p)
				}
			}
		}
	}
	return ps
}

// recovered is what Check should return for a cookie made for p, with
// the MSS already rounded: everything when the ACK echoes the TSval, the
// MSS alone when it carries no timestamp.
func recovered(p SynParams, ackHasTS bool) SynParams {
	if !p.TS || !ackHasTS {
		return SynParams{MSS: p.MSS}
	}
	p.WScale = min(p.WScale, MaxWScale)
	return p
}

func TestSynCookieRoundTrip(t *testing.T) {
	c := NewSynCookies()
	peer := Seq(0x12345678)
	for _, tab := range cookieTables {
		for _, mss := range tab.mss {
			for _, p := range synParamsCombos() {
				p.MSS = mss
				// Made at assorted points of a counter period, checked
				// at once and up to just under two periods later: always
				// within the accepted age.
				for _, at := range []time.Duration{0, time.Millisecond, 63 * time.Second, 100 * time.Hour} {
					for _, after := range []time.Duration{0, time.Second, 64 * time.Second, 128*time.Second - time.Millisecond} {
						name := fmt.Sprintf("%s/%+v/at %v/after %v", tab.name, p, at, after)
						made := c.g.base.Add(at)
						iss, tsval, ok := c.Make(tab.local, tab.remote, peer, p, made)
						if !ok {
							t.Fatalf("%s: Make refused", name)
						}
						if !p.TS && tsval != 0 {
							t.Errorf("%s: TSval %d without timestamps", name, tsval)
						}
						for _, ackTS := range []bool{false, true} {
							got, ok := c.Check(tab.local, tab.remote, peer, iss, tsval, ackTS && p.TS, made.Add(after))
							if want := recovered(p, ackTS); !ok || got != want {
								t.Errorf("%s, ACK with TS %v: Check = %+v, %v; want %+v", name, ackTS, got, ok, want)
							}
						}
					}
				}
			}
		}
	}
}

func TestSynCookieMSSRounding(t *testing.T) {
	c := NewSynCookies()
	mapped := netip.MustParseAddrPort("[::ffff:198.51.100.7]:40000")
	for _, tc := range []struct {
		remote netip.AddrPort
		mss    uint16
		want   uint16 // 0: Make refuses
	}{
		{testRemote4, 0, 0},
		{testRemote4, 535, 0},
		{testRemote4, 536, 536},
		{testRemote4, 1299, 536},
		{testRemote4, 1300, 1300},
		{testRemote4, 1400, 1300},
		{testRemote4, 1439, 1300},
		{testRemote4, 1440, 1440},
		{testRemote4, 1459, 1440},
		{testRemote4, 1460, 1460},
		{testRemote4, 8960, 1460},
		{testRemote4, 65535, 1460},
		{mapped, 1400, 1300}, // IPv4-mapped: the IPv4 table
		{testRemote6, 1219, 0},
		{testRemote6, 1220, 1220},
		{testRemote6, 1419, 1220},
		{testRemote6, 1420, 1420},
		{testRemote6, 1460, 1440},
		{testRemote6, 8939, 1440},
		{testRemote6, 8940, 8940},
		{testRemote6, 65535, 8940},
	} {
		now := c.g.base.Add(time.Minute)
		iss, _, ok := c.Make(testLocal4, tc.remote, 1, SynParams{MSS: tc.mss}, now)
		if ok != (tc.want != 0) {
			t.Errorf("%v MSS %d: Make ok %v, want %v", tc.remote, tc.mss, ok, tc.want != 0)
			continue
		}
		if !ok {
			continue
		}
		p, ok := c.Check(testLocal4, tc.remote, 1, iss, 0, false, now)
		if !ok || p.MSS != tc.want {
			t.Errorf("%v MSS %d: Check = %+v, %v; want MSS %d", tc.remote, tc.mss, p, ok, tc.want)
		}
	}
}

// A cookie is good for its 4-tuple and peer ISN alone, and any change to
// the cookie itself spoils it.
func TestSynCookieRejectsOtherInputs(t *testing.T) {
	c := NewSynCookies()
	peer := Seq(1000)
	now := c.g.base.Add(time.Hour)
	p := SynParams{MSS: 1460, TS: true, SACKPermitted: true, WScale: 7, HasWScale: true}
	iss, tsval, _ := c.Make(testLocal4, testRemote4, peer, p, now)
	if _, ok := c.Check(testLocal4, testRemote4, peer, iss, tsval, true, now); !ok {
		t.Fatal("the cookie itself is rejected")
	}
	for _, v := range tupleVariants {
		for _, ts := range []bool{false, true} {
			if got, ok := c.Check(v.local, v.remote, peer, iss, tsval, ts, now); ok {
				t.Errorf("%s (ACK with TS %v): accepted, %+v", v.name, ts, got)
			}
		}
	}
	for _, d := range []int{-1, 1, 1 << 16, -(1 << 31)} {
		if _, ok := c.Check(testLocal4, testRemote4, peer.Add(d), iss, 0, false, now); ok {
			t.Errorf("peer ISN %+d: accepted", d)
		}
	}
	// Made in each phase of the counter's low bits, so that flips of the
	// counter field give each of the accepted ages.
	for period := range 4 {
		made := now.Add(time.Duration(period) * synCookiePeriod)
		iss, _, _ := c.Make(testLocal4, testRemote4, peer, p, made)
		for bit := range 32 {
			for _, later := range []time.Duration{0, synCookiePeriod, 2 * synCookiePeriod} {
				if _, ok := c.Check(testLocal4, testRemote4, peer, iss^Seq(1)<<bit, 0, false, made.Add(later)); ok {
					t.Errorf("cookie made in period %d with bit %d flipped, %v later: accepted", period, bit, later)
				}
			}
		}
		for counter := range Seq(4) {
			forged := iss&^(cookieCountMask<<cookieCountShft) | counter<<cookieCountShft
			if forged == iss {
				continue
			}
			if _, ok := c.Check(testLocal4, testRemote4, peer, forged, 0, false, made); ok {
				t.Errorf("cookie made in period %d with counter bits %d: accepted", period, counter)
			}
		}
	}
	for _, d := range []int{-2, -1, 1, 2, 4, 16} {
		if _, ok := c.Check(testLocal4, testRemote4, peer, iss.Add(d), 0, false, now); ok {
			t.Errorf("cookie %+d: accepted", d)
		}
	}
	other := NewSynCookiesFor(c.g) // same clocks, another key
	if _, ok := other.Check(testLocal4, testRemote4, peer, iss, tsval, true, now); ok {
		t.Error("another listener's key accepted the cookie")
	}
}

// Random acknowledgment numbers: the design accepts one with probability
// 3/4 * 2^-28 (about 2.8e-9), so a million of them pass none, or at most
// a couple with a probability below 4e-9. Random TSecrs in ACKs with
// timestamps then pass at a rate of about 2^-14.4 more.
func TestSynCookieRandomAcks(t *testing.T) {
	c := NewSynCookies()
	r := rand.New(rand.NewPCG(3, 4))
	now := c.g.base.Add(24 * time.Hour)
	n := 1000000
	if testing.Short() {
		n = 100000
	}
	accepted, agedOut := 0, 0
	for range n {
		ack := Seq(r.Uint32())
		if age := (c.counter(now) - uint32(ack)>>cookieCountShft) & cookieCountMask; age > synCookieMaxAge {
			agedOut++
		}
		if _, ok := c.Check(testLocal4, testRemote4, 77, ack, r.Uint32(), r.IntN(2) == 0, now); ok {
			accepted++
		}
	}
	if accepted > 2 {
		t.Errorf("%d of %d random cookies accepted", accepted, n)
	}
	// A quarter of the acks fail on the counter bits alone.
	if agedOut < n/4-n/50 || agedOut > n/4+n/50 {
		t.Errorf("%d of %d random cookies have a counter out of range, want about a quarter", agedOut, n)
	}
	// A forger who knows the cookie but not the TS offset: random TSecrs.
	iss, _, _ := c.Make(testLocal4, testRemote4, 77, SynParams{MSS: 1460, TS: true}, now)
	tsAccepted := 0
	for range n / 10 {
		if _, ok := c.Check(testLocal4, testRemote4, 77, iss, r.Uint32(), true, now); ok {
			tsAccepted++
		}
	}
	if tsAccepted > 30 { // expected about 5 in 100,000
		t.Errorf("%d of %d random TSecrs accepted", tsAccepted, n/10)
	}
}

// A cookie lives while its counter is at most two periods behind the
// current one: 128 to 192 seconds, by where in its period it was made.
func TestSynCookieAge(t *testing.T) {
	c := NewSynCookies()
	p := SynParams{MSS: 1460, TS: true, HasWScale: true, WScale: 2}
	for _, tc := range []struct {
		at, after time.Duration // made at base + at, checked after more
		want      bool
	}{
		{0, 0, true},
		{0, 191*time.Second + 999*time.Millisecond, true},
		{0, 192 * time.Second, false},
		{64*time.Second - time.Nanosecond, 128 * time.Second, true},
		{64*time.Second - time.Nanosecond, 128*time.Second + time.Nanosecond, false},
		{30 * time.Second, 161 * time.Second, true},
		{30 * time.Second, 162 * time.Second, false},
		{0, 256 * time.Second, false}, // counter bits equal again, MAC not
		{0, 320 * time.Second, false},
		{0, 384 * time.Second, false},
		{0, time.Hour, false},
		{-time.Hour, 100 * time.Second, true}, // before the base: a negative counter
		{-time.Hour, 200 * time.Second, false},
	} {
		made := c.g.base.Add(tc.at)
		iss, tsval, _ := c.Make(testLocal4, testRemote4, 5, p, made)
		for _, ts := range []bool{false, true} {
			_, ok := c.Check(testLocal4, testRemote4, 5, iss, tsval, ts, made.Add(tc.after))
			if ok != tc.want {
				t.Errorf("made at %v, checked %v later (TS %v): ok %v, want %v", tc.at, tc.after, ts, ok, tc.want)
			}
		}
	}
	// Every second for 400 s after a time within a period, against the
	// counter arithmetic done here.
	for _, at := range []time.Duration{0, 17 * time.Second, 63 * time.Second} {
		made := c.g.base.Add(at)
		iss, tsval, _ := c.Make(testLocal4, testRemote4, 5, p, made)
		for s := range 400 {
			after := time.Duration(s) * time.Second
			want := int64((at+after)/synCookiePeriod)-int64(at/synCookiePeriod) <= synCookieMaxAge
			if _, ok := c.Check(testLocal4, testRemote4, 5, iss, tsval, true, made.Add(after)); ok != want {
				t.Errorf("made at %v, checked %v later: ok %v, want %v", at, after, ok, want)
			}
		}
	}
}

// A cookie from the future (made at a later time than the check) is
// rejected, and so is a TSecr later than the TS clock.
func TestSynCookieFuture(t *testing.T) {
	c := NewSynCookies()
	now := c.g.base.Add(time.Hour)
	p := SynParams{MSS: 1300, TS: true}
	for _, ahead := range []time.Duration{64 * time.Second, 128 * time.Second, 192 * time.Second, time.Hour} {
		iss, tsval, _ := c.Make(testLocal4, testRemote4, 9, p, now.Add(ahead))
		if _, ok := c.Check(testLocal4, testRemote4, 9, iss, tsval, false, now); ok {
			t.Errorf("cookie made %v ahead: accepted", ahead)
		}
	}
	// The counter is the same, the echoed TSval is not one sent yet.
	iss, tsval, _ := c.Make(testLocal4, testRemote4, 9, p, now)
	for _, d := range []uint32{128, 1000, 1 << 20, 1 << 31} {
		if _, ok := c.Check(testLocal4, testRemote4, 9, iss, tsval+d, true, now); ok {
			t.Errorf("TSecr %d ms ahead: accepted", d)
		}
	}
	// Older than any cookie can be.
	for _, d := range []uint32{192128, 1 << 30} {
		if _, ok := c.Check(testLocal4, testRemote4, 9, iss, tsval-d, true, now); ok {
			t.Errorf("TSecr %d ms old: accepted", d)
		}
	}
}

// The cookie TSval is the connection's TS clock (ISNGen.TSVal) less at
// most 127 ms, never ahead of it, so the TSvals the connection sends
// afterwards do not go back; its low 6 bits, less the offset, are the
// options.
func TestSynCookieTSVal(t *testing.T) {
	g := NewISNGen()
	c := NewSynCookiesFor(g)
	off := g.TSOffset(testLocal4, testRemote4)
	for _, at := range []time.Duration{0, time.Millisecond, 63 * time.Millisecond, 64 * time.Millisecond, 65 * time.Millisecond, time.Hour + 5*time.Millisecond} {
		now := g.base.Add(at)
		for _, p := range synParamsCombos() {
			if !p.TS {
				continue
			}
			p.MSS = 1460
			_, tsval, _ := c.Make(testLocal4, testRemote4, 1, p, now)
			behind := g.TSVal(testLocal4, testRemote4, now) - tsval
			if behind > 127 {
				t.Errorf("at %v, %+v: TSval %d is %d behind the connection's clock", at, p, tsval, int32(behind))
			}
			opts := (tsval - off) & 63
			wantWS := uint32(15)
			if p.HasWScale {
				wantWS = uint32(p.WScale)
			}
			if opts&15 != wantWS || (opts&16 != 0) != p.SACKPermitted || (opts&32 != 0) != p.ECN {
				t.Errorf("at %v, %+v: option bits %06b", at, p, opts)
			}
		}
	}
}

// Without a timestamp in the ACK the options the TSval carried are lost,
// as on Linux; with one, the peer's echo decides them.
func TestSynCookieTSEcho(t *testing.T) {
	g := NewISNGen()
	c := NewSynCookiesFor(g)
	now := g.base.Add(time.Hour + 63*time.Millisecond) // TS clock 63 mod 64: no option bits are ahead of it
	p := SynParams{MSS: 1440, TS: true, HasWScale: true, WScale: 9, SACKPermitted: true, ECN: true}
	iss, tsval, _ := c.Make(testLocal4, testRemote4, 3, p, now)
	if got, ok := c.Check(testLocal4, testRemote4, 3, iss, 0, false, now); !ok || got != (SynParams{MSS: 1440}) {
		t.Errorf("ACK without TS: %+v, %v", got, ok)
	}
	// An echo with other option bits (the peer's own business): read as
	// it says. 15 is no window scaling.
	for _, tc := range []struct {
		bits uint32
		want SynParams
	}{
		{15, SynParams{MSS: 1440, TS: true}},
		{14 | 16, SynParams{MSS: 1440, TS: true, WScale: 14, HasWScale: true, SACKPermitted: true}},
		{0 | 32, SynParams{MSS: 1440, TS: true, HasWScale: true, ECN: true}},
	} {
		// Keep the offset's low bits in step: options live under it.
		off := g.TSOffset(testLocal4, testRemote4)
		raw := (tsval-off)&^63 | tc.bits
		got, ok := c.Check(testLocal4, testRemote4, 3, iss, raw+off, true, now)
		if !ok || got != tc.want {
			t.Errorf("echo with bits %06b: %+v, %v; want %+v", tc.bits, got, ok, tc.want)
		}
	}
	// A cookie made without timestamps and an ACK with one: the TSecr is
	// no echo of ours.
	iss, _, _ = c.Make(testLocal4, testRemote4, 3, SynParams{MSS: 1440}, now)
	if got, ok := c.Check(testLocal4, testRemote4, 3, iss, 0x5a5a5a5a, true, now); ok {
		t.Errorf("a TSecr never sent: accepted, %+v", got)
	}
}

// Two listeners, two keys: their cookies differ.
func TestSynCookiesDiffer(t *testing.T) {
	c1, c2 := NewSynCookies(), NewSynCookies()
	if c1.key == c2.key {
		t.Fatal("two SynCookies drew the same key")
	}
	p := SynParams{MSS: 1460}
	a, _, _ := c1.Make(testLocal4, testRemote4, 1, p, c1.g.base)
	b, _, _ := c2.Make(testLocal4, testRemote4, 1, p, c2.g.base)
	if a == b {
		t.Errorf("both listeners made cookie %#x", uint32(a))
	}
	if _, ok := c2.Check(testLocal4, testRemote4, 1, a, 0, false, c2.g.base); ok {
		t.Error("c2 accepted c1's cookie")
	}
}

func TestSynCookieAllocs(t *testing.T) {
	c := NewSynCookies()
	now := time.Now()
	p := SynParams{MSS: 1460, TS: true, SACKPermitted: true, HasWScale: true, WScale: 7}
	iss, tsval, _ := c.Make(testLocal6, testRemote6, 1, p, now)
	var ok bool
	for name, f := range map[string]func(){
		"Make":  func() { _, _, ok = c.Make(testLocal6, testRemote6, 1, p, now) },
		"Check": func() { _, ok = c.Check(testLocal6, testRemote6, 1, iss, tsval, true, now) },
	} {
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s: %v allocations", name, a)
		}
		if !ok {
			t.Errorf("%s failed", name)
		}
	}
}

func BenchmarkSynCookie(b *testing.B) {
	c := NewSynCookies()
	now := time.Now()
	for _, tc := range []struct {
		name          string
		local, remote netip.AddrPort
		ts            bool
	}{
		{"v4", testLocal4, testRemote4, false},
		{"v4-TS", testLocal4, testRemote4, true},
		{"v6", testLocal6, testRemote6, false},
	} {
		p := SynParams{MSS: 1460, TS: tc.ts, SACKPermitted: true, HasWScale: true, WScale: 7}
		b.Run("Make/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Make(tc.local, tc.remote, 1, p, now)
			}
		})
		iss, tsval, _ := c.Make(tc.local, tc.remote, 1, p, now)
		b.Run("Check/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := c.Check(tc.local, tc.remote, 1, iss, tsval, tc.ts, now); !ok {
					b.Fatal("rejected")
				}
			}
		})
	}
}
