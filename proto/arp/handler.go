package arp

import (
	"net/netip"

	"github.com/stacknet/stacknet/proto/ether"
)

// Handler is what a Cache asks of the stack. The cache never calls it with
// a lock of its own held, so a Handler may call back into the cache (the
// stack's Flush writes frames, which resolves addresses).
type Handler interface {
	// SendRequest asks the stack to send an ARP request for target,
	// broadcast (dst == ether.Broadcast) when resolving or unicast to the
	// known address when re-validating.
	SendRequest(target netip.Addr, dst ether.Addr)
	// Flush hands back packets that waited for target, now resolved to
	// hw, for the stack to send.
	Flush(target netip.Addr, hw ether.Addr, pending [][]byte)
	// Fail hands back packets that waited for a neighbour that never
	// answered, so the stack can report host unreachable to their senders.
	Fail(target netip.Addr, pending [][]byte)
	// Drop releases one queued packet that was dropped (queue full, entry
	// evicted or removed, cache closed).
	Drop(pkt []byte)
}

// outbox collects, under the cache's lock, the Handler calls one operation
// needs, to make them once the lock is released. One operation touches at
// most one entry besides the one it works on (an evicted one), so each
// kind of call is needed at most once.
type outbox struct {
	drops [][]byte // queued packets dropped: an evicted or removed entry's
	drop  []byte   // one packet dropped: a full queue's oldest, or a packet with nowhere to go

	failing bool
	failIP  netip.Addr
	failQ   [][]byte

	flushing bool
	flushIP  netip.Addr
	flushHW  ether.Addr
	flushQ   [][]byte

	requesting bool
	reqIP      netip.Addr
	reqDst     ether.Addr
}

// run makes the collected calls: drops first, then the outcome of a
// resolution, then a new request.
func (o *outbox) run(h Handler) {
	for _, p := range o.drops {
		h.Drop(p)
	}
	if o.drop != nil {
		h.Drop(o.drop)
	}
	if o.failing {
		h.Fail(o.failIP, o.failQ)
	}
	if o.flushing {
		h.Flush(o.flushIP, o.flushHW, o.flushQ)
	}
	if o.requesting {
		h.SendRequest(o.reqIP, o.reqDst)
	}
}
