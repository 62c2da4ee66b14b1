package arp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stacknet/stacknet/proto/ether"
	"github.com/stacknet/stacknet/timers"
)

// ledger is a Handler that accounts for every packet the cache is given:
// each must come back exactly once, through Flush, Fail or Drop.
type ledger struct {
	c *Cache

	mu       sync.Mutex
	fate     map[string]string // packet -> "sent", "flush", "fail" or "drop"
	twice    []string
	requests int
}

func (l *ledger) settle(pkt []byte, how string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.fate[string(pkt)]; ok {
		l.twice = append(l.twice, fmt.Sprintf("%s: %s then %s", pkt, prev, how))
	}
	l.fate[string(pkt)] = how
}

func (l *ledger) SendRequest(netip.Addr, ether.Addr) {
	l.mu.Lock()
	l.requests++
	l.mu.Unlock()
}

func (l *ledger) Flush(target netip.Addr, hw ether.Addr, pending [][]byte) {
	for _, p := range pending {
		l.settle(p, "flush")
	}
	// The stack sends the flushed packets, which resolves again.
	l.c.Resolve(target, nil)
}

func (l *ledger) Fail(_ netip.Addr, pending [][]byte) {
	for _, p := range pending {
		l.settle(p, "fail")
	}
}

func (l *ledger) Drop(pkt []byte) { l.settle(pkt, "drop") }

func TestConcurrentUse(t *testing.T) {
	clock := timers.NewFake(start)
	ts := timers.New(clock)
	defer ts.Close()
	l := &ledger{fate: map[string]string{}}
	c := NewCache(Config{MaxEntries: 12, QueueLen: 3, ReachableTime: 300 * time.Millisecond, GCTime: 10 * s}, ts, l)
	l.c = c

	var addrs []netip.Addr
	for i := range 16 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}))
	}
	hws := []ether.Addr{hwA, hwB, hwC}

	const workers, ops = 8, 3000
	var wg sync.WaitGroup
	given := make([][]string, workers)
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 99))
			for i := range ops {
				ip := addrs[r.IntN(len(addrs))]
				switch n := r.IntN(100); {
				case n < 60:
					pkt := fmt.Sprintf("w%d-%d", w, i)
					given[w] = append(given[w], pkt)
					if _, ok := c.Resolve(ip, []byte(pkt)); ok {
						l.settle([]byte(pkt), "sent")
					}
				case n < 80:
					c.Update(ip, hws[r.IntN(len(hws))], r.IntN(2) == 0)
				case n < 88:
					c.Confirm(ip)
				case n < 92:
					c.Remove(ip)
				case n < 94:
					_ = c.AddStatic(ip, hwC)
				case n < 97:
					c.Lookup(ip)
				default:
					c.Entries()
					c.Stats()
				}
			}
		})
	}
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		for {
			select {
			case <-stop:
				return
			default:
				clock.Advance(100 * time.Millisecond)
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-ticked
	c.Close()

	st := c.Stats()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.twice {
		t.Error("packet came back twice:", e)
	}
	total := 0
	counts := map[string]int{}
	for _, pkts := range given {
		for _, p := range pkts {
			total++
			how, ok := l.fate[p]
			if !ok {
				t.Errorf("packet %s never came back", p)
			}
			counts[how]++
		}
	}
	if len(l.fate) != total {
		t.Errorf("%d packets settled, %d given", len(l.fate), total)
	}
	if uint64(counts["drop"]) != st.QueueDrops {
		t.Errorf("%d drops, QueueDrops %d", counts["drop"], st.QueueDrops)
	}
	if uint64(l.requests) != st.Requests {
		t.Errorf("%d requests, Requests %d", l.requests, st.Requests)
	}
	t.Logf("%d packets: %v; %+v", total, counts, st)
	if n := ts.Len(); n != 0 {
		t.Errorf("%d timers armed after Close", n)
	}
}

func TestResolveHitAllocs(t *testing.T) {
	e := newEnv(t, Config{})
	e.stale(t, ip3, hwC)
	e.c.Resolve(ip3, nil) // now Probe
	e.c.Update(ip1, hwA, true)
	if err := e.c.AddStatic(ip2, hwB); err != nil {
		t.Fatal(err)
	}
	pkt := []byte("p")
	for _, ip := range []netip.Addr{ip1, ip2, ip3} {
		state := e.state(ip)
		if n := testing.AllocsPerRun(1000, func() {
			if _, ok := e.c.Resolve(ip, pkt); !ok {
				t.Fatal("miss")
			}
		}); n != 0 {
			t.Errorf("Resolve hit on a %s entry allocates %v times", state, n)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { e.c.Confirm(ip1) }); n != 0 {
		t.Errorf("Confirm of a Reachable entry allocates %v times", n)
	}
}

func benchCache(b *testing.B, n int) (*Cache, []netip.Addr) {
	ts := timers.New(timers.NewFake(start))
	c := NewCache(Config{}, ts, &ledger{fate: map[string]string{}})
	b.Cleanup(func() {
		c.Close()
		ts.Close()
	})
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		c.Update(addrs[i], hwA, true)
	}
	return c, addrs
}

// The common case: nearly all traffic goes to one neighbour, the gateway.
func BenchmarkResolveHit(b *testing.B) {
	c, addrs := benchCache(b, 1)
	pkt := []byte("p")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Resolve(addrs[0], pkt); !ok {
			b.Fatal("miss")
		}
	}
}

// Traffic spread over many neighbours, so that every use records a new
// LRU tick.
func BenchmarkResolveHitSpread(b *testing.B) {
	c, addrs := benchCache(b, 256)
	pkt := []byte("p")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := c.Resolve(addrs[i&255], pkt); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

func BenchmarkResolveHitParallel(b *testing.B) {
	c, addrs := benchCache(b, 1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		pkt := []byte("p")
		for pb.Next() {
			if _, ok := c.Resolve(addrs[0], pkt); !ok {
				b.Fatal("miss")
			}
		}
	})
}
