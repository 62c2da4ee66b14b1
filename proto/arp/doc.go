// Package arp implements the Address Resolution Protocol for IPv4 over
// Ethernet (RFC 826): the packet format, and the neighbour cache that
// maps the IPv4 addresses of on-link neighbours to their Ethernet
// addresses.
//
// The cache follows RFC 1122 2.3.2:
//   - 2.3.2.1, cache validation: entries age from Reachable to Stale after
//     ReachableTime; a Stale entry in use is re-validated by unicast poll
//     (Probe) and removed if the neighbour stops answering; higher layers
//     may confirm reachability (Confirm); unused Stale entries are removed
//     after GCTime. Requests for one address are rate-limited by a
//     retransmission schedule that starts at RetransTime (1s, the
//     recommended maximum rate) and doubles with each retry.
//   - 2.3.2.2, queueing: packets for an unresolved address are held, up
//     to QueueLen per neighbour, the oldest dropped first, and sent in
//     order once the reply comes; if none comes, they are handed back so
//     the stack can report the host unreachable.
//
// The states and their timing follow Linux's neighbour unreachability
// detection (itself after RFC 4861 7.3), with Linux's DELAY folded into
// Probe. The cache's size is bounded: a new entry beyond MaxEntries
// evicts the least recently used one that is not static.
//
// The cache does not send packets itself: it asks the stack, through a
// Handler, to send requests and to send or fail the packets it queued.
// The stack answers requests for its own addresses, merges the sender of
// every ARP packet into the cache (Update), and sends the probes and
// announcements of RFC 5227 (gratuitous ARP) when an address is added;
// Put builds all of them, Parse reads them.
//
// It leaves out proxy ARP (RFC 1027), reverse ARP (RFC 903), ARP for
// protocols other than IPv4 or links other than Ethernet (Parse rejects
// them with ErrUnsupported), address conflict detection beyond the
// packets RFC 5227 defines, and randomised ReachableTime.
package arp
