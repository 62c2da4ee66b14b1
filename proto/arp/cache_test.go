package arp

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stacknet/stacknet/proto/ether"
)

const s = time.Second

var bcast = ether.Broadcast

func TestResolveQueuesAndFlushesInOrder(t *testing.T) {
	e := newEnv(t, Config{})
	e.resolve(t, ip1, "p1", ether.Addr{}, false)
	e.rec.expect(t, request(0, ip1, bcast))
	e.wantState(t, ip1, "incomplete")

	// Further packets wait without a new request (RFC 1122 2.3.2.1).
	e.advanceTo(t, 500*time.Millisecond)
	e.resolve(t, ip1, "p2", ether.Addr{}, false)
	e.resolve(t, ip1, "p3", ether.Addr{}, false)
	e.rec.expect(t)

	if !e.c.Update(ip1, hwA, false) {
		t.Fatal("Update of an Incomplete entry reports no entry")
	}
	e.rec.expect(t, flush(500*time.Millisecond, ip1, hwA, "p1 p2 p3"))
	e.wantState(t, ip1, "reachable")
	e.resolve(t, ip1, "p4", hwA, true)

	// Resolved: no retransmission, no failure.
	e.advanceTo(t, 10*s)
	e.rec.expect(t)
	st := e.c.Stats()
	want := CacheStats{Entries: 1, Requests: 1, Updates: 1, Resolved: 1, Queued: 3}
	if st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
}

func TestResolveNilPacket(t *testing.T) {
	e := newEnv(t, Config{})
	e.resolve(t, ip1, "", ether.Addr{}, false)
	e.resolve(t, ip2, "", ether.Addr{}, false)
	e.rec.expect(t, request(0, ip1, bcast), request(0, ip2, bcast))
	// A resolution ends with Flush or Fail even with nothing queued.
	e.c.Update(ip1, hwA, false)
	e.rec.expect(t, flush(0, ip1, hwA, ""))
	e.advanceTo(t, 7*s)
	e.rec.expect(t, request(1*s, ip2, bcast), request(3*s, ip2, bcast), fail(7*s, ip2, ""))
	if st := e.c.Stats(); st.Queued != 0 || st.QueueDrops != 0 {
		t.Errorf("nil packets counted: %+v", st)
	}
}

func TestQueueDropsOldest(t *testing.T) {
	e := newEnv(t, Config{QueueLen: 2})
	e.resolve(t, ip1, "p1", ether.Addr{}, false)
	e.resolve(t, ip1, "p2", ether.Addr{}, false)
	e.rec.expect(t, request(0, ip1, bcast))
	e.resolve(t, ip1, "p3", ether.Addr{}, false)
	e.rec.expect(t, drop(0, "p1"))
	e.resolve(t, ip1, "p4", ether.Addr{}, false)
	e.rec.expect(t, drop(0, "p2"))
	e.c.Update(ip1, hwA, true)
	e.rec.expect(t, flush(0, ip1, hwA, "p3 p4"))
	if st := e.c.Stats(); st.Queued != 4 || st.QueueDrops != 2 {
		t.Errorf("Queued %d, QueueDrops %d; want 4, 2", st.Queued, st.QueueDrops)
	}
}

func TestRetryBackoffThenFail(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		want  []time.Duration // request times
		fails time.Duration
	}{
		{"defaults", Config{}, []time.Duration{0, 1 * s, 3 * s}, 7 * s},
		{"one try", Config{MaxRetries: 1}, []time.Duration{0}, 1 * s},
		{"fast", Config{RetransTime: 250 * time.Millisecond, MaxRetries: 4},
			[]time.Duration{0, 250 * time.Millisecond, 750 * time.Millisecond, 1750 * time.Millisecond}, 3750 * time.Millisecond},
		// The wait doubles up to 64 times RetransTime, then stays.
		{"capped", Config{MaxRetries: 10},
			[]time.Duration{0, 1 * s, 3 * s, 7 * s, 15 * s, 31 * s, 63 * s, 127 * s, 191 * s, 255 * s}, 319 * s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			e.advanceTo(t, 0)
			e.resolve(t, ip1, "p1", ether.Addr{}, false)
			var want []event
			for i, at := range tt.want {
				want = append(want, request(at, ip1, bcast))
				if i == 1 {
					e.advanceTo(t, at) // a packet queued mid-way is handed back too
					e.resolve(t, ip1, "p2", ether.Addr{}, false)
				}
			}
			e.advanceTo(t, tt.fails-1)
			e.wantState(t, ip1, "incomplete")
			e.advanceTo(t, tt.fails)
			pkts := "p1"
			if len(tt.want) > 1 {
				pkts = "p1 p2"
			}
			want = append(want, fail(tt.fails, ip1, pkts))
			e.rec.expect(t, want...)
			e.wantState(t, ip1, "none")
			st := e.c.Stats()
			if st.Failed != 1 || st.Requests != uint64(len(tt.want)) || st.Entries != 0 || st.Probes != 0 {
				t.Errorf("Stats = %+v", st)
			}
			if n := e.ts.Len(); n != 0 {
				t.Errorf("%d timers armed after failure", n)
			}
			// A new attempt starts afresh.
			e.resolve(t, ip1, "p3", ether.Addr{}, false)
			e.rec.expect(t, request(tt.fails, ip1, bcast))
		})
	}
}

// stale makes ip Reachable at hw at the current time, then ages it to
// Stale.
func (e *env) stale(t *testing.T, ip netip.Addr, hw ether.Addr) {
	t.Helper()
	if !e.c.Update(ip, hw, true) {
		t.Fatal("Update(create) failed")
	}
	e.advanceTo(t, e.now()+DefaultReachableTime)
	e.wantState(t, ip, "stale")
}

func TestReachableBecomesStale(t *testing.T) {
	e := newEnv(t, Config{ReachableTime: 10 * s})
	e.advanceTo(t, 2*s)
	e.c.Update(ip1, hwA, true)
	e.advanceTo(t, 12*s-1)
	e.wantState(t, ip1, "reachable")
	e.resolve(t, ip1, "", hwA, true) // use does not extend Reachable
	e.advanceTo(t, 12*s)
	e.wantState(t, ip1, "stale")
	en, _ := e.c.Lookup(ip1)
	if want := (Entry{Addr: ip1, HW: hwA, State: Stale, Updated: start.Add(12 * s)}); en != want {
		t.Errorf("Lookup = %+v, want %+v", en, want)
	}
	e.rec.expect(t)
}

func TestUpdateRefreshesReachable(t *testing.T) {
	e := newEnv(t, Config{ReachableTime: 10 * s})
	e.c.Update(ip1, hwA, true)
	e.advanceTo(t, 8*s)
	e.c.Update(ip1, hwB, false) // RFC 826 merge: the new address wins
	e.advanceTo(t, 17*s)
	e.wantState(t, ip1, "reachable")
	e.resolve(t, ip1, "", hwB, true)
	e.advanceTo(t, 18*s)
	e.wantState(t, ip1, "stale")
}

func TestStaleUseProbesThenReply(t *testing.T) {
	e := newEnv(t, Config{})
	e.stale(t, ip1, hwA) // Stale at 30s
	e.advanceTo(t, 40*s)
	// The Stale address is used as it is, and re-validated by unicast.
	e.resolve(t, ip1, "p1", hwA, true)
	e.wantState(t, ip1, "probe")
	e.rec.expect(t, request(40*s, ip1, hwA))
	e.resolve(t, ip1, "p2", hwA, true)
	e.advanceTo(t, 41*s)
	e.rec.expect(t, request(41*s, ip1, hwA))
	e.wantState(t, ip1, "probe")

	// The neighbour answers from a new address.
	e.c.Update(ip1, hwB, false)
	e.wantState(t, ip1, "reachable")
	e.resolve(t, ip1, "", hwB, true)
	e.advanceTo(t, 70*s)
	e.rec.expect(t)
	e.wantState(t, ip1, "reachable")
	e.advanceTo(t, 71*s)
	e.wantState(t, ip1, "stale")
	if st := e.c.Stats(); st.Probes != 2 || st.Requests != 2 || st.Failed != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestProbeWithoutReplyRemoves(t *testing.T) {
	e := newEnv(t, Config{})
	e.stale(t, ip1, hwA)
	e.resolve(t, ip1, "p1", hwA, true)
	e.advanceTo(t, 37*s-1)
	e.wantState(t, ip1, "probe")
	e.advanceTo(t, 37*s)
	e.wantState(t, ip1, "none")
	// Nothing was queued, so no Fail.
	e.rec.expect(t, request(30*s, ip1, hwA), request(31*s, ip1, hwA), request(33*s, ip1, hwA))
	if st := e.c.Stats(); st.Failed != 1 || st.Probes != 3 {
		t.Errorf("Stats = %+v", st)
	}
	// The next use resolves from scratch, by broadcast.
	e.resolve(t, ip1, "p2", ether.Addr{}, false)
	e.rec.expect(t, request(37*s, ip1, bcast))
}

func TestStaleUnusedIsCollected(t *testing.T) {
	e := newEnv(t, Config{GCTime: 20 * s})
	e.stale(t, ip1, hwA) // Stale at 30s
	e.advanceTo(t, 50*s-1)
	e.wantState(t, ip1, "stale")
	e.advanceTo(t, 50*s)
	e.wantState(t, ip1, "none")
	e.rec.expect(t)
	if st := e.c.Stats(); st.Expired != 1 || st.Entries != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestConfirm(t *testing.T) {
	e := newEnv(t, Config{ReachableTime: 10 * s})
	if e.c.Confirm(ip1) {
		t.Error("Confirm of an unknown address reports an entry")
	}
	e.c.Update(ip1, hwA, true)
	e.advanceTo(t, 6*s)
	if !e.c.Confirm(ip1) {
		t.Error("Confirm of a Reachable entry failed")
	}
	en, _ := e.c.Lookup(ip1)
	if !en.Updated.Equal(start.Add(6 * s)) {
		t.Errorf("Updated = %v after Confirm at 6s", en.Updated.Sub(start))
	}
	e.advanceTo(t, 16*s-1)
	e.wantState(t, ip1, "reachable")
	e.advanceTo(t, 16*s)
	e.wantState(t, ip1, "stale")

	// Higher-layer advice on a Stale or Probe entry makes it Reachable
	// without a request.
	e.c.Confirm(ip1)
	e.wantState(t, ip1, "reachable")
	e.advanceTo(t, 26*s)
	e.resolve(t, ip1, "", hwA, true)
	e.wantState(t, ip1, "probe")
	e.c.Confirm(ip1)
	e.wantState(t, ip1, "reachable")
	e.advanceTo(t, 35*s)
	e.rec.expect(t, request(26*s, ip1, hwA))

	e.resolve(t, ip2, "", ether.Addr{}, false)
	e.c.AddStatic(ip3, hwC)
	if e.c.Confirm(ip2) || e.c.Confirm(ip3) {
		t.Error("Confirm of an Incomplete or Static entry reports success")
	}
	e.wantState(t, ip2, "incomplete")
	e.wantState(t, ip3, "static")
}

func TestLRUEvictionKeepsStatic(t *testing.T) {
	e := newEnv(t, Config{MaxEntries: 4})
	if err := e.c.AddStatic(ip1, hwA); err != nil {
		t.Fatal(err)
	}
	e.c.Update(ip2, hwB, true)
	e.c.Update(ip3, hwC, true)
	e.resolve(t, ip4, "p4", ether.Addr{}, false)
	e.rec.expect(t, request(0, ip4, bcast))
	e.resolve(t, ip2, "", hwB, true) // ip3 is now the least recently used
	e.resolve(t, ip1, "", hwA, true)

	e.resolve(t, ip5, "p5", ether.Addr{}, false)
	e.rec.expect(t, request(0, ip5, bcast))
	for ip, want := range map[netip.Addr]string{ip1: "static", ip2: "reachable", ip3: "none", ip4: "incomplete", ip5: "incomplete"} {
		e.wantState(t, ip, want)
	}
	// Next is ip4, whose queued packet is dropped.
	e.c.Update(ip6, hwA, true)
	e.rec.expect(t, drop(0, "p4"))
	e.wantState(t, ip4, "none")
	// Then ip2, ip5 and ip6; never the static ip1.
	e.c.Update(ip7, hwA, true)
	e.wantState(t, ip2, "none")
	e.resolve(t, ip3, "p3", ether.Addr{}, false)
	e.rec.expect(t, drop(0, "p5"), request(0, ip3, bcast))
	e.resolve(t, ip4, "", ether.Addr{}, false)
	e.rec.expect(t, request(0, ip4, bcast))
	e.wantState(t, ip6, "none")
	e.wantState(t, ip1, "static")
	st := e.c.Stats()
	if st.Evictions != 5 || st.Entries != 4 || st.QueueDrops != 2 {
		t.Errorf("Stats = %+v", st)
	}
	// Evicted entries leave no timer behind; ip3 and ip4 and ip7 have one.
	if n := e.ts.Len(); n != 3 {
		t.Errorf("%d timers armed, want 3", n)
	}
}

func TestFullOfStatic(t *testing.T) {
	e := newEnv(t, Config{MaxEntries: 2})
	for _, ip := range []netip.Addr{ip1, ip2} {
		if err := e.c.AddStatic(ip, hwA); err != nil {
			t.Fatal(err)
		}
	}
	e.resolve(t, ip3, "p3", ether.Addr{}, false)
	e.rec.expect(t, drop(0, "p3"))
	if e.c.Update(ip3, hwC, true) {
		t.Error("Update created an entry in a cache full of static ones")
	}
	if err := e.c.AddStatic(ip3, hwC); !errors.Is(err, ErrFull) {
		t.Errorf("AddStatic = %v, want ErrFull", err)
	}
	// Replacing a static entry needs no room.
	if err := e.c.AddStatic(ip2, hwB); err != nil {
		t.Errorf("AddStatic over a static entry: %v", err)
	}
	e.resolve(t, ip2, "", hwB, true)
	e.wantState(t, ip3, "none")
}

func TestStaticNeverAges(t *testing.T) {
	e := newEnv(t, Config{})
	if err := e.c.AddStatic(ip1, hwA); err != nil {
		t.Fatal(err)
	}
	if e.ts.Len() != 0 {
		t.Error("a static entry arms a timer")
	}
	e.advanceTo(t, 365*24*time.Hour)
	e.resolve(t, ip1, "", hwA, true)
	// ARP traffic does not override a static entry.
	if !e.c.Update(ip1, hwB, true) {
		t.Error("Update reports no entry for a static one")
	}
	en, _ := e.c.Lookup(ip1)
	if want := (Entry{Addr: ip1, HW: hwA, State: Static, Updated: start}); en != want {
		t.Errorf("Lookup = %+v, want %+v", en, want)
	}
	e.rec.expect(t)
}

func TestAddStaticReplacesDynamic(t *testing.T) {
	e := newEnv(t, Config{})
	e.resolve(t, ip1, "p1", ether.Addr{}, false)
	e.resolve(t, ip1, "p2", ether.Addr{}, false)
	e.c.Update(ip2, hwA, true)
	e.rec.take()
	e.advanceTo(t, 500*time.Millisecond)
	if err := e.c.AddStatic(ip1, hwB); err != nil {
		t.Fatal(err)
	}
	e.rec.expect(t, flush(500*time.Millisecond, ip1, hwB, "p1 p2"))
	if err := e.c.AddStatic(ip2, hwC); err != nil {
		t.Fatal(err)
	}
	e.advanceTo(t, time.Hour)
	e.rec.expect(t) // no retry, no failure, no aging
	e.resolve(t, ip1, "", hwB, true)
	e.resolve(t, ip2, "", hwC, true)
	if st := e.c.Stats(); st.Resolved != 1 || st.Entries != 2 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t, Config{})
	if e.c.Update(ip1, hwA, false) {
		t.Error("Update(create=false) reports an entry")
	}
	e.wantState(t, ip1, "none")
	if !e.c.Update(ip1, hwA, true) {
		t.Error("Update(create=true) failed")
	}
	e.resolve(t, ip1, "", hwA, true)

	// Zero and multicast addresses are not believed.
	for _, hw := range []ether.Addr{{}, ether.Broadcast, {0x01, 0x00, 0x5e, 0, 0, 1}} {
		if !e.c.Update(ip1, hw, true) {
			t.Errorf("Update(%v) reports no entry", hw)
		}
		if e.c.Update(ip2, hw, true) {
			t.Errorf("Update(%v) created an entry", hw)
		}
	}
	e.resolve(t, ip1, "", hwA, true)
	e.wantState(t, ip2, "none")
	if st := e.c.Stats(); st.Updates != 1 {
		t.Errorf("Updates = %d, want 1", st.Updates)
	}
}

func TestRemove(t *testing.T) {
	e := newEnv(t, Config{})
	e.resolve(t, ip1, "p1", ether.Addr{}, false)
	e.c.AddStatic(ip2, hwB)
	e.rec.take()
	if !e.c.Remove(ip1) || !e.c.Remove(ip2) {
		t.Error("Remove of an entry failed")
	}
	e.rec.expect(t, drop(0, "p1"))
	if e.c.Remove(ip1) || e.c.Remove(ip3) {
		t.Error("Remove of a missing entry reports success")
	}
	if n := e.ts.Len(); n != 0 {
		t.Errorf("%d timers armed after Remove", n)
	}
	e.advanceTo(t, time.Minute)
	e.rec.expect(t)
}

func TestClose(t *testing.T) {
	e := newEnv(t, Config{})
	e.resolve(t, ip1, "p1", ether.Addr{}, false)
	e.resolve(t, ip1, "p2", ether.Addr{}, false)
	e.resolve(t, ip2, "p3", ether.Addr{}, false)
	e.c.Update(ip3, hwC, true)
	e.c.AddStatic(ip4, hwA)
	e.rec.take()
	e.c.Close()
	got := e.rec.take()
	if len(got) != 3 {
		t.Fatalf("Close: handler calls\n%s\nwant three drops", fmtEvents(got))
	}
	dropped := map[string]bool{}
	for _, ev := range got {
		if ev.Kind != "drop" {
			t.Errorf("Close made %v", ev)
		}
		dropped[ev.Pkts] = true
	}
	if !dropped["p1"] || !dropped["p2"] || !dropped["p3"] {
		t.Errorf("dropped %v", dropped)
	}
	if n := e.ts.Len(); n != 0 {
		t.Errorf("%d timers armed after Close", n)
	}
	if len(e.c.Entries()) != 0 {
		t.Error("entries left after Close")
	}

	// After Close, nothing is kept and nothing is sent.
	e.resolve(t, ip3, "p4", ether.Addr{}, false)
	e.rec.expect(t, drop(0, "p4"))
	if e.c.Update(ip1, hwA, true) || e.c.Confirm(ip3) {
		t.Error("Update or Confirm succeeded after Close")
	}
	if err := e.c.AddStatic(ip1, hwA); !errors.Is(err, ErrClosed) {
		t.Errorf("AddStatic after Close = %v", err)
	}
	e.c.Close()
	e.advanceTo(t, time.Hour)
	e.rec.expect(t)
}

func TestNotIPv4(t *testing.T) {
	e := newEnv(t, Config{})
	v6 := netip.MustParseAddr("2001:db8::1")
	for _, ip := range []netip.Addr{{}, v6} {
		e.resolve(t, ip, "p", ether.Addr{}, false)
		e.rec.expect(t, drop(0, "p"))
		if err := e.c.AddStatic(ip, hwA); !errors.Is(err, ErrAddr) {
			t.Errorf("AddStatic(%v) = %v", ip, err)
		}
		if e.c.Update(ip, hwA, true) || e.c.Remove(ip) || e.c.Confirm(ip) {
			t.Errorf("%v accepted", ip)
		}
		if _, ok := e.c.Lookup(ip); ok {
			t.Errorf("Lookup(%v) found an entry", ip)
		}
	}
	// An IPv4-mapped address is the IPv4 one.
	mapped := netip.AddrFrom16(ip1.As16())
	e.c.Update(mapped, hwA, true)
	e.resolve(t, ip1, "", hwA, true)
	en, ok := e.c.Lookup(mapped)
	if !ok || en.Addr != ip1 {
		t.Errorf("Lookup(%v) = %+v, %v", mapped, en, ok)
	}
}

func TestLookupHasNoSideEffects(t *testing.T) {
	e := newEnv(t, Config{MaxEntries: 2})
	e.c.Update(ip1, hwA, true)
	e.c.Update(ip2, hwB, true)
	e.advanceTo(t, 30*s)
	e.wantState(t, ip1, "stale") // Lookup does not start a probe
	e.wantState(t, ip1, "stale")
	e.rec.expect(t)
	// Nor does it count as a use: ip1 is still the least recently used.
	e.c.Lookup(ip1)
	e.c.Update(ip3, hwC, true)
	e.wantState(t, ip1, "none")
	e.wantState(t, ip2, "stale")
}

func TestEntries(t *testing.T) {
	e := newEnv(t, Config{})
	e.c.Update(ip3, hwC, true)
	e.resolve(t, ip2, "", ether.Addr{}, false)
	e.c.AddStatic(ip1, hwA)
	e.advanceTo(t, 2*s)
	e.c.Update(ip4, hwB, true)
	want := []Entry{
		{Addr: ip1, HW: hwA, State: Static, Updated: start},
		{Addr: ip2, State: Incomplete, Updated: start},
		{Addr: ip3, HW: hwC, State: Reachable, Updated: start},
		{Addr: ip4, HW: hwB, State: Reachable, Updated: start.Add(2 * s)},
	}
	got := e.c.Entries()
	if len(got) != len(want) {
		t.Fatalf("Entries = %+v", got)
	}
	for i := range want {
		if got[i].Addr != want[i].Addr || got[i].HW != want[i].HW || got[i].State != want[i].State ||
			!got[i].Updated.Equal(want[i].Updated) {
			t.Errorf("Entries[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// A Handler may call back into the cache: the stack's Flush sends
// frames, which resolves addresses.
func TestHandlerReentry(t *testing.T) {
	e := newEnv(t, Config{})
	var got ether.Addr
	e.rec.onFlush = func(target netip.Addr, hw ether.Addr) {
		got, _ = e.c.Resolve(target, nil)
		e.c.Update(ip2, hwB, true)
	}
	e.resolve(t, ip1, "p1", ether.Addr{}, false)
	e.c.Update(ip1, hwA, false)
	if got != hwA {
		t.Errorf("Resolve from Flush = %v, want %v", got, hwA)
	}
	e.wantState(t, ip2, "reachable")
}

// A timer firing that lost a race with a Reset finds its timer armed
// again and does nothing.
func TestExpireStaleFiring(t *testing.T) {
	e := newEnv(t, Config{})
	e.resolve(t, ip1, "p1", ether.Addr{}, false)
	e.rec.take()
	e.c.mu.RLock()
	en := e.c.entries[0xc0000201]
	e.c.mu.RUnlock()
	en.fire()
	e.rec.expect(t)
	e.wantState(t, ip1, "incomplete")
	if st := e.c.Stats(); st.Requests != 1 {
		t.Errorf("Requests = %d", st.Requests)
	}
	// And once removed, a late firing does nothing either.
	e.c.Remove(ip1)
	e.rec.take()
	en.fire()
	e.rec.expect(t)
}

func TestNewCachePanicsOnNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewCache(nil, nil) did not panic")
		}
	}()
	NewCache(Config{}, nil, nil)
}
