// Package stacknet is a userspace TCP/IP stack whose sockets are drop-ins
// for package net's: a *UDPConn is a net.Conn and a net.PacketConn, a
// *TCPConn a net.Conn with the methods of *net.TCPConn, a *TCPListener a
// net.Listener, and their errors, deadlines and Close behave as package
// net's do on Linux.
//
// A Stack owns interfaces (link devices with an IPv4 address), a routing
// table, sockets and one timer service. Each interface has one goroutine
// that reads batches of frames from its device and carries each through
// Ethernet, ARP or IPv4, ICMP and UDP to the socket's queue, without
// handing it to another goroutine. Sends run on the caller's goroutine
// down to the device.
//
//	s, _ := stacknet.New(stacknet.Config{})
//	defer s.Close()
//	tap, _ := link.OpenTAP("tap0")
//	s.AddInterface(tap, netip.MustParsePrefix("192.0.2.2/24"))
//	pc, _ := s.ListenPacket("udp", ":7")
//
// TCP: each connection is a pure machine (proto/tcp.Conn) behind one
// mutex, with one timer on the stack's timer service re-armed to the
// machine's deadline after every call. Segments are built straight into a
// pooled packet buffer and sent on the calling goroutine; arriving ones
// are found by their 4-tuple in a table (then by listener, the exact
// address before 0.0.0.0) and handed to the machine on the interface's
// goroutine. Segments for no socket are answered with a RST (RFC 9293
// 3.10.7.1). Listeners keep a SYN queue apart from the accept queue and
// answer with SYN cookies (RFC 4987 3.6) when it is full; ephemeral ports
// follow RFC 6056 3.3.3; ICMP errors reach connections as Linux's
// tcp_v4_err delivers them (RFC 5927, RFC 1191 for fragmentation
// needed). SetLinger with a timeout makes Close wait for the FIN's ACK
// as Linux's close does, then leaves the connection to finish alone.
// With Config.DNSServers, Dial and DialContext resolve names over the
// stack itself, as Go's own resolver does (A records over UDP, TCP when
// the answer is truncated, 5 s per query, two rounds over the servers);
// LookupNetIP is the lookup alone. There is no cache, no AAAA and no
// search list.
// Left out: IPv6, TCP Fast Open, MD5 and AO signatures, urgent data as
// out-of-band data, and file descriptors (no SyscallConn or File).
//
// Layers and their packages: link (devices and wrappers), proto/ether,
// proto/arp, proto/ipv4, proto/icmp, proto/udp, proto/tcp (wire formats and protocol
// machines), timers (the protocol clock). Stats gives counters in the
// manner of netstat -s; a slog.Logger at debug level gets a trace of
// every packet's headers.
package stacknet
