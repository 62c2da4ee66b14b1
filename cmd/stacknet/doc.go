// Command stacknet runs the stacknet userspace TCP/IP stack from the
// command line.
//
//	stacknet demo [--trace] [--pcap FILE] [--loss P] [--seed N]
//	stacknet tap create NAME [--mtu N] [--kernel-addr ADDR/BITS]
//	stacknet tap delete NAME
//	stacknet run (--tap NAME | --packet IFNAME) --addr ADDR/BITS [options]
//	stacknet ping (--tap NAME | --packet IFNAME) --addr ADDR/BITS [options] DEST
//
// Demo needs no privileges: it joins two stacks in one process by an
// in-memory Ethernet wire (link.Pipe) and prints, like a tutorial
// transcript, what they do: ping both ways, their ARP caches, UDP echo
// with a datagram big enough to be fragmented, ECONNREFUSED on a
// connected UDP socket, and their counters in the manner of netstat -s.
//
// Tap creates and deletes TAP interfaces over netlink. Run brings up a
// stack on a TAP interface, or on an Ethernet interface through a
// PF_PACKET socket, that answers ARP and ping and, with --udp-echo,
// echoes UDP, until SIGINT or SIGTERM. Ping sends echo requests from such
// a stack and prints the replies as ping(8) does. Run and ping share the
// flags that choose the device and the stack's address, impair the wire
// (link.Impair), capture it to a pcap file (link.Capture) and trace every
// packet (slog at debug level, to stderr). These need root.
//
// Exit status: 0 on success, 1 when the command failed, 2 when the
// command line was wrong. 'stacknet help' prints the usage.
package main
