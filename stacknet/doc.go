// Package stacknet is a userspace TCP/IP stack whose sockets are drop-ins
// for package net's: a *UDPConn is a net.Conn and a net.PacketConn, and
// its errors, deadlines and Close behave as *net.UDPConn's do on Linux.
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
// Layers and their packages: link (devices and wrappers), proto/ether,
// proto/arp, proto/ipv4, proto/icmp, proto/udp (wire formats and protocol
// machines), timers (the protocol clock). Stats gives counters in the
// manner of netstat -s; a slog.Logger at debug level gets a trace of
// every packet's headers.
package stacknet
