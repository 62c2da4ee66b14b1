// Package ipv4 reads and writes IPv4 datagrams (RFC 791) and keeps the
// state IPv4 needs besides: the routing table, fragmentation and
// reassembly, and the choice of identification values.
//
// What it implements:
//
//   - Header (header.go): a zero-copy view of a datagram. Parse checks the
//     version, the header length, the total length against the frame (a
//     longer frame is link padding and is cut off) and the header
//     checksum (RFC 791 3.1; RFC 1122 3.2.1.1 and 3.2.1.2: a datagram
//     with a bad version or checksum is silently discarded). PutHeader
//     writes a 20-byte header; DecTTL updates the checksum incrementally
//     (RFC 1624) as a router does (RFC 1812 5.3.1).
//   - Table (route.go): longest-prefix-match routing (RFC 1812 5.2.4.3),
//     with a gateway, an outgoing interface, a preferred source address
//     (RFC 1122 3.3.4.3: the source is chosen from the route) and an MTU
//     per route. Lookups are lock-free on a copy-on-write snapshot.
//   - Fragment (fragment.go): RFC 791 3.2 fragmentation, including
//     refragmentation of a fragment by a router and the copied flag of
//     options (RFC 791 3.1); DF is honoured (RFC 1191).
//   - Reassembler (reassembly.go): RFC 791 3.2 reassembly keyed by
//     (source, destination, protocol, identification), with the
//     bookkeeping of RFC 815 kept as a sorted list of fragments. It
//     handles reordering and exact duplicates; overlapping or inconsistent
//     fragments drop the whole datagram, as RFC 5722 requires for IPv6
//     (overlaps are only ever used to evade filters). A datagram times out
//     30 s after its first fragment by default (RFC 1122 3.3.2 recommends
//     60 to 120 s; Linux uses 30 s), and the stack is told so that it can
//     send ICMP time exceeded, code 1, when fragment zero had arrived
//     (RFC 1122 3.3.2). Memory is bounded per stack (the oldest datagrams
//     are evicted) and fragments per datagram are capped. An ECN CE mark
//     on any fragment is carried to the datagram (RFC 3168 5.3).
//   - IDGen (id.go): identification values that are unique per
//     (source, destination, protocol) for 65536 datagrams in a row but not
//     predictable across destinations (RFC 6274 3.5; RFC 7739 5.3, the
//     hash-based scheme, keyed with SipHash-2-4 and a random key per
//     stack; RFC 6864 on the uniqueness actually needed).
//
// From RFC 1122 3.x the stack (with this package) honours: silent discard
// of bad datagrams (3.2.1.1, 3.2.1.2), reassembly of datagrams up to 65535
// bytes and the reassembly timeout (3.3.2), the source address from the
// route (3.3.4.3), not fragmenting with DF (3.2.1.4), and passing unknown
// options through (3.2.1.8: options are skipped, and copied when
// fragmenting).
//
// What it leaves out: options processing beyond skipping and copying (no
// record route, timestamp, security or router alert handling), source
// routing (RFC 1122 3.3.5; datagrams with source-route options are not
// treated specially), multicast routing and IGMP, ECMP, policy routing
// and route metrics, path MTU discovery state (RFC 1191 belongs to the
// stack, which feeds it from ICMP), and IPv6.
package ipv4
