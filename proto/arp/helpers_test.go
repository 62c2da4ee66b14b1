package arp

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stacknet/stacknet/proto/ether"
	"github.com/stacknet/stacknet/timers"
)

var (
	start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

	ip1 = netip.MustParseAddr("192.0.2.1")
	ip2 = netip.MustParseAddr("192.0.2.2")
	ip3 = netip.MustParseAddr("192.0.2.3")
	ip4 = netip.MustParseAddr("192.0.2.4")
	ip5 = netip.MustParseAddr("192.0.2.5")
	ip6 = netip.MustParseAddr("192.0.2.6")
	ip7 = netip.MustParseAddr("192.0.2.7")

	hwA = ether.Addr{0x02, 0x00, 0x5e, 0x00, 0x02, 0x0a}
	hwB = ether.Addr{0x02, 0x00, 0x5e, 0x00, 0x02, 0x0b}
	hwC = ether.Addr{0x02, 0x00, 0x5e, 0x00, 0x02, 0x0c}
)

// event is one call the cache made of its Handler.
type event struct {
	At   time.Duration // fake time since start
	Kind string        // "request", "flush", "fail" or "drop"
	IP   netip.Addr
	HW   ether.Addr // request: destination; flush: resolved address
	Pkts string     // the packets, as "p1 p2"
}

func (e event) String() string {
	return fmt.Sprintf("%v %s %v %v [%s]", e.At, e.Kind, e.IP, e.HW, e.Pkts)
}

// recorder is a Handler that records every call, and checks that none is
// made with the cache's lock held.
type recorder struct {
	t     testing.TB
	clock *timers.Fake
	c     *Cache

	mu     sync.Mutex
	events []event

	onFlush func(target netip.Addr, hw ether.Addr)
}

func (r *recorder) record(kind string, ip netip.Addr, hw ether.Addr, pkts [][]byte) {
	if r.c.mu.TryLock() {
		r.c.mu.Unlock()
	} else {
		r.t.Errorf("%s called with the cache's lock held", kind)
	}
	names := make([]string, len(pkts))
	for i, p := range pkts {
		names[i] = string(p)
	}
	r.mu.Lock()
	r.events = append(r.events, event{r.clock.Now().Sub(start), kind, ip, hw, strings.Join(names, " ")})
	r.mu.Unlock()
}

func (r *recorder) SendRequest(target netip.Addr, dst ether.Addr) {
	r.record("request", target, dst, nil)
}

func (r *recorder) Flush(target netip.Addr, hw ether.Addr, pending [][]byte) {
	r.record("flush", target, hw, pending)
	if r.onFlush != nil {
		r.onFlush(target, hw)
	}
}

func (r *recorder) Fail(target netip.Addr, pending [][]byte) {
	r.record("fail", target, ether.Addr{}, pending)
}

func (r *recorder) Drop(pkt []byte) { r.record("drop", netip.Addr{}, ether.Addr{}, [][]byte{pkt}) }

// take returns the events recorded since the last call.
func (r *recorder) take() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

// expect checks that the events since the last take are want.
func (r *recorder) expect(t *testing.T, want ...event) {
	t.Helper()
	got := r.take()
	if !slices.Equal(got, want) {
		t.Errorf("handler calls:\n%s\nwant:\n%s", fmtEvents(got), fmtEvents(want))
	}
}

func fmtEvents(ev []event) string {
	if len(ev) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for i, e := range ev {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("  " + e.String())
	}
	return b.String()
}

func request(at time.Duration, ip netip.Addr, dst ether.Addr) event {
	return event{At: at, Kind: "request", IP: ip, HW: dst}
}

func flush(at time.Duration, ip netip.Addr, hw ether.Addr, pkts string) event {
	return event{At: at, Kind: "flush", IP: ip, HW: hw, Pkts: pkts}
}

func fail(at time.Duration, ip netip.Addr, pkts string) event {
	return event{At: at, Kind: "fail", IP: ip, Pkts: pkts}
}

func drop(at time.Duration, pkt string) event {
	return event{At: at, Kind: "drop", Pkts: pkt}
}

// env is a cache on a fake clock.
type env struct {
	c     *Cache
	clock *timers.Fake
	ts    *timers.Service
	rec   *recorder
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	clock := timers.NewFake(start)
	ts := timers.New(clock)
	rec := &recorder{t: t, clock: clock}
	c := NewCache(cfg, ts, rec)
	rec.c = c
	t.Cleanup(func() {
		c.Close()
		ts.Close()
	})
	return &env{c: c, clock: clock, ts: ts, rec: rec}
}

// now is the fake time since start.
func (e *env) now() time.Duration { return e.clock.Now().Sub(start) }

// advanceTo moves the fake clock to start+at.
func (e *env) advanceTo(t *testing.T, at time.Duration) {
	t.Helper()
	d := at - e.now()
	if d < 0 {
		t.Fatalf("advanceTo(%v) at %v", at, e.now())
	}
	e.clock.Advance(d)
}

// state returns the state of ip's entry, or "none".
func (e *env) state(ip netip.Addr) string {
	en, ok := e.c.Lookup(ip)
	if !ok {
		return "none"
	}
	return en.State.String()
}

func (e *env) wantState(t *testing.T, ip netip.Addr, want string) {
	t.Helper()
	if got := e.state(ip); got != want {
		t.Errorf("at %v, %v is %s, want %s", e.now(), ip, got, want)
	}
}

// resolve calls Resolve and checks its result.
func (e *env) resolve(t *testing.T, ip netip.Addr, pkt string, wantHW ether.Addr, wantOK bool) {
	t.Helper()
	var p []byte
	if pkt != "" {
		p = []byte(pkt)
	}
	hw, ok := e.c.Resolve(ip, p)
	if hw != wantHW || ok != wantOK {
		t.Errorf("at %v, Resolve(%v) = %v, %v; want %v, %v", e.now(), ip, hw, ok, wantHW, wantOK)
	}
}
