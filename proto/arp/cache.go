package arp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stacknet/stacknet/proto/ether"
	"github.com/stacknet/stacknet/timers"
)

// Entry is a snapshot of a cache entry.
type Entry struct {
	Addr    netip.Addr
	HW      ether.Addr // zero while Incomplete
	State   State
	Updated time.Time // last change of state or confirmation
}

// CacheStats counts a Cache's work since NewCache.
type CacheStats struct {
	Entries    uint64 // entries now, static ones included
	Requests   uint64 // requests asked of SendRequest, broadcast and unicast
	Probes     uint64 // of Requests, the unicast ones that re-validate an entry
	Updates    uint64 // calls of Update that created or refreshed an entry
	Resolved   uint64 // Incomplete entries resolved by Update or AddStatic
	Failed     uint64 // entries removed because the neighbour never answered (Incomplete or Probe)
	Expired    uint64 // Stale entries removed after GCTime unused
	Evictions  uint64 // entries evicted to make room for a new one
	Queued     uint64 // packets queued while resolving
	QueueDrops uint64 // queued packets handed to Drop, and packets Resolve could not queue
}

// Errors returned by AddStatic.
var (
	ErrAddr   = errors.New("arp: not an IPv4 address")
	ErrFull   = errors.New("arp: cache full of static entries")
	ErrClosed = errors.New("arp: cache closed")
)

// entry is one neighbour. Fields marked "mu" are guarded by Cache.mu;
// used and confirmed are also written under its read lock, so they are
// atomic.
type entry struct {
	c       *Cache
	key     uint32
	addr    netip.Addr
	hw      ether.Addr // mu
	state   State      // mu
	probes  int        // mu; requests sent in the current resolution or probe
	updated time.Time  // mu; last change of state or confirmation by Update
	queue   [][]byte   // mu; packets waiting, oldest first (Incomplete only)
	timer   timers.Timer

	used      atomic.Uint64 // Cache.tick at the last use, for LRU
	confirmed atomic.Int64  // Confirm's time, as nanoseconds since Cache.epoch
}

func (e *entry) fire() { e.c.expire(e) }

// lastConfirmed returns the later of updated and the Confirm time. mu.
func (e *entry) lastConfirmed() time.Time {
	t := e.c.epoch.Add(time.Duration(e.confirmed.Load()))
	if t.After(e.updated) {
		return t
	}
	return e.updated
}

// Cache is the ARP neighbour cache of one interface: RFC 826 address
// resolution with the cache validation and queueing of RFC 1122 2.3.2, and
// aging like Linux's neighbour unreachability detection. It is safe for
// concurrent use. Resolve and Confirm on a known neighbour take only a
// read lock and never allocate.
//
// Each resolution that starts from Incomplete ends with exactly one call
// of Flush (resolved) or Fail (no answer), even with no packet queued, so
// a caller may Resolve(ip, nil) and wait for it; unless the entry is
// evicted, removed or the cache closed first. Flush is called after the
// entry became Reachable, so a packet resolved on another goroutine in the
// meantime may leave before the flushed ones.
type Cache struct {
	cfg   Config
	ts    *timers.Service
	h     Handler
	epoch time.Time

	// tick orders uses for LRU eviction. A use stores a new tick in the
	// entry unless the entry already holds the latest one, so repeated
	// use of one neighbour (the default gateway) writes nothing shared.
	tick atomic.Uint64

	mu      sync.RWMutex
	entries map[uint32]*entry // mu
	closed  bool              // mu
	stats   CacheStats        // mu (write lock); Entries is computed
}

// NewCache returns an empty cache whose timers run on ts and which calls
// h to send requests and hand back packets. Neither may be nil.
func NewCache(cfg Config, ts *timers.Service, h Handler) *Cache {
	if ts == nil || h == nil {
		panic("arp: NewCache with nil timer service or handler")
	}
	return &Cache{
		cfg:     cfg.withDefaults(),
		ts:      ts,
		h:       h,
		epoch:   ts.Now(),
		entries: make(map[uint32]*entry),
	}
}

// key returns the map key of an IPv4 (or IPv4-mapped IPv6) address.
func key(ip netip.Addr) (uint32, bool) {
	if !ip.Is4() && !ip.Is4In6() {
		return 0, false
	}
	a := ip.As4()
	return binary.BigEndian.Uint32(a[:]), true
}

// touch records a use of e for LRU eviction.
func (c *Cache) touch(e *entry) {
	if t := c.tick.Load(); e.used.Load() != t {
		e.used.Store(c.tick.Add(1))
	}
}

// Resolve returns the hardware address of ip when it is known (the entry
// is Reachable, Stale, Probe or Static); pkt is then left to the caller.
// Using a Stale entry starts re-validation: it moves to Probe and unicast
// requests go to the known address (Linux's DELAY and PROBE in one).
//
// When the address is not known, Resolve takes ownership of pkt if it is
// non-nil and queues it, creates an Incomplete entry if there is none and
// sends the first broadcast request, and returns ok false. Further packets
// for an Incomplete entry are queued without a new request, so requests
// keep to the retransmission schedule (RFC 1122 2.3.2.1). Should no entry
// be possible (the cache is closed, full of static entries, or ip is not
// IPv4), pkt goes to Drop at once.
func (c *Cache) Resolve(ip netip.Addr, pkt []byte) (hw ether.Addr, ok bool) {
	k, valid := key(ip)
	if valid {
		c.mu.RLock()
		if e := c.entries[k]; e != nil {
			switch e.state {
			case Reachable, Probe:
				hw = e.hw
				c.touch(e)
				c.mu.RUnlock()
				return hw, true
			case Static:
				hw = e.hw
				c.mu.RUnlock()
				return hw, true
			}
		}
		c.mu.RUnlock()
	}
	return c.resolveSlow(k, valid, pkt)
}

func (c *Cache) resolveSlow(k uint32, valid bool, pkt []byte) (hw ether.Addr, ok bool) {
	var out outbox
	c.mu.Lock()
	e := c.entries[k]
	switch {
	case !valid || c.closed:
		c.dropLocked(pkt, &out)
	case e == nil:
		if e = c.newEntryLocked(k, &out); e == nil {
			c.dropLocked(pkt, &out)
			break
		}
		e.state = Incomplete
		e.updated = c.ts.Now()
		c.enqueueLocked(e, pkt, &out)
		c.requestLocked(e, ether.Broadcast, &out)
	case e.state == Incomplete:
		c.enqueueLocked(e, pkt, &out)
	case e.state == Stale:
		// RFC 1122 2.3.2.1: re-validate an entry in use by unicast poll.
		e.state = Probe
		e.updated = c.ts.Now()
		e.probes = 0
		c.touch(e)
		c.requestLocked(e, e.hw, &out)
		hw, ok = e.hw, true
	default: // became known between the locks
		c.touch(e)
		hw, ok = e.hw, true
	}
	c.mu.Unlock()
	out.run(c.h)
	return hw, ok
}

// dropLocked hands pkt, which has nowhere to go, to Drop.
func (c *Cache) dropLocked(pkt []byte, out *outbox) {
	if pkt != nil {
		out.drop = pkt
		c.stats.QueueDrops++
	}
}

// enqueueLocked adds pkt to e's queue, dropping the oldest packet when the
// queue is full (RFC 1122 2.3.2.2: keep the most recent).
func (c *Cache) enqueueLocked(e *entry, pkt []byte, out *outbox) {
	if pkt == nil {
		return
	}
	if len(e.queue) >= c.cfg.QueueLen {
		out.drop = e.queue[0]
		n := copy(e.queue, e.queue[1:])
		e.queue[n] = nil
		e.queue = e.queue[:n]
		c.stats.QueueDrops++
	}
	e.queue = append(e.queue, pkt)
	c.stats.Queued++
}

// backoff returns the wait after the n-th request of a resolution or
// probe: RetransTime, doubled for each earlier request, capped.
func (c *Cache) backoff(n int) time.Duration {
	d := c.cfg.RetransTime
	for i := 1; i < n && i <= maxBackoffShift && d <= 1<<62; i++ {
		d *= 2
	}
	return d
}

// requestLocked sends the next request for e to dst and arms the
// retransmission timer.
func (c *Cache) requestLocked(e *entry, dst ether.Addr, out *outbox) {
	e.probes++
	out.requesting, out.reqIP, out.reqDst = true, e.addr, dst
	c.stats.Requests++
	if dst != ether.Broadcast {
		c.stats.Probes++
	}
	e.timer.Reset(c.backoff(e.probes))
}

// newEntryLocked adds an entry for k, evicting the least recently used
// dynamic entry if the cache is full. It returns nil if every entry is
// static.
func (c *Cache) newEntryLocked(k uint32, out *outbox) *entry {
	if len(c.entries) >= c.cfg.MaxEntries {
		var victim *entry
		for _, e := range c.entries {
			if e.state != Static && (victim == nil || e.used.Load() < victim.used.Load()) {
				victim = e
			}
		}
		if victim == nil {
			return nil
		}
		c.removeLocked(victim)
		out.drops = victim.queue
		c.stats.QueueDrops += uint64(len(victim.queue))
		c.stats.Evictions++
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], k)
	e := &entry{c: c, key: k, addr: netip.AddrFrom4(a)}
	e.timer.Init(c.ts, e.fire)
	e.used.Store(c.tick.Add(1))
	c.entries[k] = e
	return e
}

// removeLocked takes e out of the cache and stops its timer. Its queue is
// left to the caller.
func (c *Cache) removeLocked(e *entry) {
	delete(c.entries, e.key)
	e.timer.Stop()
}

// reachableLocked makes e Reachable at hw, confirmed now.
func (c *Cache) reachableLocked(e *entry, hw ether.Addr, now time.Time) {
	e.hw = hw
	e.state = Reachable
	e.updated = now
	e.probes = 0
	e.timer.Reset(c.cfg.ReachableTime)
}

// expire is the timer callback of e: the next retransmission, the end of
// a resolution or probe, aging from Reachable to Stale, or the removal of
// an unused Stale entry.
func (c *Cache) expire(e *entry) {
	var out outbox
	c.mu.Lock()
	// A firing that lost a race with Reset (timer pending again), Remove,
	// eviction or Close does nothing.
	if c.closed || c.entries[e.key] != e || e.timer.Pending() {
		c.mu.Unlock()
		return
	}
	now := c.ts.Now()
	switch e.state {
	case Incomplete, Probe:
		if e.probes < c.cfg.MaxRetries {
			dst := ether.Broadcast
			if e.state == Probe {
				dst = e.hw
			}
			c.requestLocked(e, dst, &out)
			break
		}
		// RFC 1122 2.3.2.1: the neighbour did not answer; flush it.
		c.removeLocked(e)
		c.stats.Failed++
		if e.state == Incomplete || len(e.queue) > 0 {
			out.failing, out.failIP, out.failQ = true, e.addr, e.queue
		}
		e.queue = nil
	case Reachable:
		if due := e.lastConfirmed().Add(c.cfg.ReachableTime); now.Before(due) {
			e.timer.ResetAt(due) // confirmed since the timer was armed
			break
		}
		e.state = Stale
		e.updated = now
		e.timer.Reset(c.cfg.GCTime)
	case Stale:
		// Unused since it became Stale: any use moves it to Probe.
		c.removeLocked(e)
		c.stats.Expired++
	}
	c.mu.Unlock()
	out.run(c.h)
}

// Update merges what an ARP packet says about ip (RFC 826: "If the pair
// <protocol type, sender protocol address> is already in my translation
// table, update the sender hardware address field of the entry with the
// new information in the packet"): an entry for ip, unless static, takes
// hw and becomes Reachable, and the packets it queued go to Flush, in
// order. With no entry, one is added Reachable only if create is set (RFC
// 826: when the packet is for us). Update reports whether an entry for ip
// exists afterwards.
//
// An hw that is zero or multicast is never believed (RFC 1812 3.3.2 for
// routers; a neighbour cannot own such an address): Update then changes
// nothing.
func (c *Cache) Update(ip netip.Addr, hw ether.Addr, create bool) bool {
	k, valid := key(ip)
	if !valid {
		return false
	}
	var out outbox
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	e := c.entries[k]
	if hw.IsZero() || hw.IsMulticast() || e == nil && !create {
		c.mu.Unlock()
		return e != nil
	}
	now := c.ts.Now()
	switch {
	case e == nil:
		if e = c.newEntryLocked(k, &out); e == nil {
			c.mu.Unlock()
			return false
		}
		c.reachableLocked(e, hw, now)
		c.stats.Updates++
	case e.state == Static:
	case e.state == Incomplete:
		c.reachableLocked(e, hw, now)
		out.flushing, out.flushIP, out.flushHW, out.flushQ = true, e.addr, hw, e.queue
		e.queue = nil
		c.stats.Resolved++
		c.stats.Updates++
	default:
		c.reachableLocked(e, hw, now)
		c.stats.Updates++
	}
	c.mu.Unlock()
	out.run(c.h)
	return true
}

// Confirm records that ip is known to be reachable from a source other
// than ARP, such as a TCP segment acknowledging new data (RFC 1122
// 2.3.2.1, "higher-layer advice"): a Stale or Probe entry becomes
// Reachable with its address unchanged, and a Reachable one stays so for
// another ReachableTime. It reports whether a dynamic, resolved entry for
// ip exists. On a Reachable entry it takes only a read lock.
func (c *Cache) Confirm(ip netip.Addr) bool {
	k, valid := key(ip)
	if !valid {
		return false
	}
	c.mu.RLock()
	e := c.entries[k]
	if e != nil && e.state == Reachable {
		e.confirmed.Store(int64(c.ts.Now().Sub(c.epoch)))
		c.mu.RUnlock()
		return true
	}
	c.mu.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	e = c.entries[k]
	if c.closed || e == nil {
		return false
	}
	switch e.state {
	case Reachable, Stale, Probe:
		c.reachableLocked(e, e.hw, c.ts.Now())
		return true
	}
	return false
}

// AddStatic sets ip's hardware address to hw for good. It replaces any
// dynamic entry; the packets one queued go to Flush. A static entry never
// ages and is never evicted; Update leaves it alone and only Remove takes
// it out. It fails with ErrFull when the cache is at MaxEntries and every
// entry is static.
func (c *Cache) AddStatic(ip netip.Addr, hw ether.Addr) error {
	k, valid := key(ip)
	if !valid {
		return ErrAddr
	}
	var out outbox
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	e := c.entries[k]
	if e == nil {
		if e = c.newEntryLocked(k, &out); e == nil {
			c.mu.Unlock()
			return ErrFull
		}
	} else if e.state == Incomplete {
		out.flushing, out.flushIP, out.flushHW, out.flushQ = true, e.addr, hw, e.queue
		e.queue = nil
		c.stats.Resolved++
	}
	e.timer.Stop()
	e.hw = hw
	e.state = Static
	e.updated = c.ts.Now()
	e.probes = 0
	c.mu.Unlock()
	out.run(c.h)
	return nil
}

// Remove deletes the entry for ip, static or not, and reports whether
// there was one. Packets it queued go to Drop.
func (c *Cache) Remove(ip netip.Addr) bool {
	k, valid := key(ip)
	if !valid {
		return false
	}
	var out outbox
	c.mu.Lock()
	e := c.entries[k]
	if e == nil {
		c.mu.Unlock()
		return false
	}
	c.removeLocked(e)
	out.drops = e.queue
	c.stats.QueueDrops += uint64(len(e.queue))
	e.queue = nil
	c.mu.Unlock()
	out.run(c.h)
	return true
}

// Lookup returns the entry for ip without side effects: it neither counts
// as a use nor starts re-validation.
func (c *Cache) Lookup(ip netip.Addr) (Entry, bool) {
	k, valid := key(ip)
	if !valid {
		return Entry{}, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.entries[k]
	if e == nil {
		return Entry{}, false
	}
	return e.snapshot(), true
}

// snapshot returns e as an Entry. mu (read).
func (e *entry) snapshot() Entry {
	en := Entry{Addr: e.addr, State: e.state, Updated: e.updated}
	if e.state != Incomplete {
		en.HW = e.hw
	}
	if e.state == Reachable {
		en.Updated = e.lastConfirmed()
	}
	return en
}

// Entries returns a snapshot of every entry, sorted by address.
func (c *Cache) Entries() []Entry {
	c.mu.RLock()
	list := make([]Entry, 0, len(c.entries))
	for _, e := range c.entries {
		list = append(list, e.snapshot())
	}
	c.mu.RUnlock()
	slices.SortFunc(list, func(a, b Entry) int { return a.Addr.Compare(b.Addr) })
	return list
}

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := c.stats
	s.Entries = uint64(len(c.entries))
	return s
}

// Close removes every entry and stops every timer; queued packets go to
// Drop. Afterwards Resolve drops what it is given, Update and Confirm do
// nothing, and AddStatic fails with ErrClosed. Close is idempotent.
func (c *Cache) Close() {
	var out outbox
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	for _, e := range c.entries {
		e.timer.Stop()
		out.drops = append(out.drops, e.queue...)
		c.stats.QueueDrops += uint64(len(e.queue))
		e.queue = nil
	}
	clear(c.entries)
	c.mu.Unlock()
	out.run(c.h)
}
