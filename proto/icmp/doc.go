// Package icmp reads and writes ICMP messages for IPv4 (RFC 792), decides
// which error messages the stack may send (RFC 1122 3.2.2) and limits
// their rate (RFC 1812 4.3.2.8).
//
// # Messages
//
// Message is an allocation-free view of a message whose length and
// checksum Parse has checked; Put writes a header and checksum over a body
// already in place; AppendError builds an error message quoting an
// offending datagram; Message.Quote finds the quoted datagram in a
// received error.
//
// # What the stack sends
//
//   - Echo reply (type 0) to every echo request (type 8), echoing its
//     identifier, sequence number and data (RFC 1122 3.2.2.6).
//   - Destination unreachable (type 3): port unreachable (code 3) for a
//     UDP datagram to a port no socket holds, protocol unreachable (code
//     2) for a transport protocol the stack lacks (RFC 1122 3.2.2.1),
//     host unreachable (code 1) when a neighbour does not answer ARP, and,
//     when forwarding, fragmentation needed (code 4) carrying the next-hop
//     MTU in the low 16 bits of the rest-of-header word (RFC 1191 section
//     4, FragNeededRest).
//   - Time exceeded (type 11): fragment reassembly time exceeded (code 1)
//     when reassembly of a datagram whose first fragment arrived times out
//     (RFC 1122 3.3.2), and TTL exceeded in transit (code 0) when
//     forwarding (RFC 1812 5.3.1).
//   - Parameter problem (type 12) is defined (ParamProblemRest) for
//     completeness.
//
// An error quotes as much of the offending datagram as fits in a 576-byte
// IP datagram (RFC 1812 4.3.2.3; at least the IP header and 64 bits, RFC
// 792), as Linux does.
//
// # What it never sends
//
// RFC 1122 3.2.2: no error message about an ICMP error message (nor, as
// in Linux, about an ICMP message of unknown type), a datagram to an IP
// broadcast or multicast address, a datagram received as a link-layer
// broadcast, a non-initial fragment, or a datagram whose source does not
// name a single host (0.0.0.0/8, multicast, Class E, broadcast).
// MaySendError applies these rules. No source quench (deprecated by RFC
// 6633) and no redirects (a host does not send them).
//
// # Rate limiting
//
// RateLimiter is a token bucket with Linux's defaults (1000 messages a
// second, bursts of 50: net.ipv4.icmp_msgs_per_sec and icmp_msgs_burst),
// plus an optional per-destination bucket (one a second, bursts of 6, as
// net.ipv4.icmp_ratelimit), checked first. RateLimited says which
// messages go through it (Linux's icmp_ratemask: destination
// unreachable except fragmentation needed, source quench, time exceeded,
// parameter problem; not echo replies).
//
// # What is left out
//
//   - Timestamp and timestamp reply (types 13, 14; RFC 1122 3.2.2.8 makes
//     them optional) and the address mask messages (types 17, 18, RFC
//     950; obsolete): received ones are dropped, none are sent. The type
//     constants are kept for the packet trace.
//   - Redirects are recognised (IsError, to send no error about them) but
//     ignored: the stack keeps no per-destination routes for them to
//     update (RFC 1122 3.2.2.2 says a host SHOULD act on them; Linux hosts
//     commonly set accept_redirects to 0).
//   - Information request/reply, router advertisement and solicitation
//     (RFC 1256), source quench processing (RFC 6633: ignore), and ICMP
//     extensions (RFC 4884) are not implemented; neither is ICMPv6.
package icmp
