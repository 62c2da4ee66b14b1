// Package udp reads and writes UDP datagrams (RFC 768) and keeps the table
// of bound ports with RFC 6056 ephemeral port selection.
//
// The checksum is always computed on send and verified on receive unless
// the sender left it zero. A computed checksum of zero is sent as 0xffff
// (RFC 768), and Verify accepts either form of zero. Parse accepts a
// length field shorter than the IP payload and cuts the datagram to it
// (the rest is link padding, as Linux trims it); a length field longer
// than the payload is an error.
//
// # Port table
//
// Table maps local addresses and ports to sockets, with the rules of a
// Linux UDP socket without SO_REUSEADDR or SO_REUSEPORT: a port is held
// either by one wildcard (0.0.0.0) binding or by bindings to distinct
// specific addresses. Lookup picks the receiver of a datagram as Linux's
// compute_score does, simplified: a socket connected to the sender beats
// one only bound, and a specific local address beats the wildcard; a
// connected socket receives only from its peer.
//
// Port 0 in Bind picks an ephemeral port from [32768, 60999], Linux's
// default net.ipv4.ip_local_port_range (Table.SetPortRange changes it),
// with RFC 6056 section 3.3.1, Algorithm 1 ("simple port randomization"):
// a random first port, then a linear search for a free one. The random
// source is private to each Table and seeded from crypto/rand. Algorithm 1
// was chosen over the hash-based ones (3.3.3-3.3.5) because an unconnected
// UDP socket has no remote endpoint to hash at bind time, and because it
// gives each bind an independent port, which is what defends against
// blind guessing of the port (RFC 6056 section 3.5 compares them).
//
// It leaves out UDP-Lite, IPv6, SO_REUSEADDR/SO_REUSEPORT sharing,
// multicast and broadcast delivery to several sockets, and binding to a
// device.
package udp
