// Package tcptest is the script language for testing the TCP state
// machine, after packetdrill's (Cardwell et al., "packetdrill: Scriptable
// Network Stack Testing, from Sockets to Packets", USENIX ATC 2013),
// simplified. A script lists, one per line, the segments a peer sends to
// the machine, the segments the machine must send back, and the calls the
// application makes, each at a time on a fake clock. The package holds
// the language: the parser (Parse, ParseFile), the formatter (String
// methods, FormatActual) and the matcher (Match, SegmentOf). The runner,
// which drives a machine through a script, is not here.
//
// # An example
//
//	// A passive open, 1000 octets out, and a reset.
//	0     listen() = 0
//	+0    < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
//	+0    > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 7>
//	+.01  < . 1:1(0) ack 1 win 512 <nop,nop,TS val 110 ecr *>
//	+0    accept() = 0
//	+0    write(1000) = 1000
//	+0    > P. 1:1001(1000) ack 1 <nop,nop,TS val * ecr 110>
//	+.2~+.25 > P. 1:1001(1000) ack 1   // the retransmission, between 200 and 250 ms later
//	+0    read(100) = -1 EAGAIN
//	+1    < R. 1:1(0) ack 1001 win 0
//
// testdata holds longer scripts, checked against RFC 9293 and Linux.
//
// # Lines
//
// A script is text, one step per line. "//" starts a comment that runs to
// the end of the line (except inside a double-quoted string in a call's
// arguments); blank lines and comment lines are skipped. Every other line
// is a time, then a space or tab, then a segment or a call:
//
//	step    = time ( "<" segment | ">" segment | call )
//	time    = "*" | instant [ "~" instant ]
//	instant = [ "+" ] seconds                 both ends of a range alike
//	seconds = digits [ "." digits ] | "." digits
//	segment = flags seq [ "ack" N ] [ "win" N ] [ options ]
//	flags   = letters of "FSRP.UEW" | "none"
//	seq     = N ":" N "(" N ")"              start:end(length)
//	options = "<" [ option { "," option } ] ">"
//	option  = "mss" N | "wscale" N | "sackOK" | "TS" "val" V "ecr" V |
//	          "sack" N ":" N { N ":" N } | "nop" | "eol" | "opt" N [ HEX ]
//	V       = N | "*"
//	call    = name "(" [ arg { "," arg } ] ")" "=" result [ ERRNO [ "(" text ")" ] ]
//
// Within a segment, spaces and tabs may stand between any two tokens and
// are needed only between two words ("ack 1", not "ack1"); numbers are
// decimal. There are no multi-line steps and no other constructs:
// packetdrill's shell commands, /* */ comments, option settings and
// blocking calls ("0...1 read(...)") are not part of the language.
//
// # Time
//
// A time is a number of seconds, with up to nine digits after the point,
// parsed exactly as a decimal (".1" is exactly 100 ms, "0.000001" 1 µs):
//
//	0.5         absolute: half a second after the script starts
//	+.01        relative: 10 ms after the previous step happened
//	0.1~0.2     a range: at any time from 100 to 200 ms, ends included
//	+.2~+.25    a relative range; both ends must be relative, or neither
//	*           any time (from the previous step on)
//
// The previous step happened, for an outbound segment, when the machine
// actually sent it, which may be anywhere in its range; relative times
// after it count from then, so a chain of retransmissions can be written
// "+.2~+.25", "+.4~+.5", "+.8~+1". TimeSpec.Window computes the bounds.
//
// # Segments
//
// "<" is a segment the peer sends (inbound, injected into the machine);
// ">" one the machine must send (outbound, an expectation). Then:
//
// Flags, in tcpdump's notation: one letter a bit, F (FIN), S (SYN), R
// (RST), P (PSH), "." (ACK), U (URG), E (ECE), W (CWR): "S", "S.", ".",
// "P.", "F.", "FP.", "R", "R.", "SEW" (a SYN asking for ECN, RFC 3168
// 6.1.1), "S.E". The letters may come in any order, each once; they are
// written back in the order of tcp.Flags.String. "none" is a segment with
// no flags.
//
// Sequence numbers start:end(length), relative, as packetdrill and
// tcpdump write them: the start counts from the initial sequence number
// of the sender, so both SYNs are at 0 and the first data octet at 1.
// length is the payload in octets, not counting SYN or FIN, at most
// MaxPayload, and end must be start + length (modulo 2^32): "0:0(0)",
// "1:1001(1000)".
//
// "ack N": the acknowledgment number, relative to the receiver's initial
// sequence number (after a SYN at 0, "ack 1"). It may be written only
// with the ACK flag, and an inbound segment with the ACK flag must have
// it.
//
// "win N": the window field as on the wire, not scaled, 0 to 65535. An
// inbound segment must have it.
//
// Options in angle brackets, in the order they lie on the wire; NOPs are
// written, padding is not:
//
//	mss 1460              Maximum Segment Size (RFC 9293 3.2)
//	wscale 7              Window Scale shift count (RFC 7323 2), 0-255
//	sackOK                SACK-Permitted (RFC 2018 2)
//	TS val 100 ecr 0      Timestamps (RFC 7323 3), values as on the wire
//	sack 1001:2001 ...    SACK (RFC 2018 3), one to four blocks, edges
//	                      relative like the ack number
//	nop                   No-Operation
//	eol                   End of Option List; it must be last
//	opt 34 a1b2c3d4       any other kind, with its data in hex (none, or
//	                      up to 38 octets); kinds with a keyword above
//	                      must use it
//
// Linux lays a SYN's options out as "<mss 1460,sackOK,TS val 1 ecr
// 0,nop,wscale 7>" and a data segment's as "<nop,nop,TS val 1 ecr
// 2,nop,nop,sack 1001:2001>" (see tcp.PutOptions). The options of a
// segment may take at most 40 octets.
//
// # Don't-cares and the rule for omitted fields
//
// For an outbound segment, whatever is not written is not checked: no
// "ack" means any acknowledgment number, no "win" any window, no "<...>"
// any options (while "<>" means none), and "*" as a timestamp value any
// value. The flags, sequence numbers and length are always checked. When
// options are written they are compared item by item in order, NOPs
// included ("<mss 1460,nop>" does not match "<nop,mss 1460>"), except that
// a final eol on either side is ignored. See Segment.Match.
//
// For an inbound segment, the script says exactly what is sent: absent
// options are none, and "ack" (with the ACK flag) and "win" are required.
// A "*" timestamp value is the runner's to fill in, with
// Segment.ResolveTS, before it builds the segment: "ecr *" echoes the
// TSval of the last segment the machine sent, "val *" reads the peer's
// clock. TS values are never relative: they are the numbers on the wire.
//
// # Calls
//
// A call is the application acting on the machine: a name, arguments in
// parentheses and the result, an integer, or -1 and an errno name:
//
//	+0 write(1000) = 1000
//	+0 read(100) = -1 EAGAIN
//	+0 connect() = -1 EINPROGRESS
//	+0 getsockopt(SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
//
// Arguments are split at the commas outside brackets and double-quoted
// strings and kept as written; an errno name (E, then capitals and digits)
// follows exactly the result -1, optionally with strace's text for it in
// parentheses, which is dropped. Which calls exist and what their
// arguments mean is the runner's to decide.
//
// # Errors
//
// Parse stops at the first malformed line and returns an *Error naming
// it: "line 7: expected ack number after \"ack\", found end of line". It
// never panics, whatever its input; FuzzParse checks this, and that every
// step it accepts formats (Step.String) to a line that parses back to the
// same step.
//
// # Checking what the machine sent
//
// SegmentOf turns a segment on the wire into a Segment relative to the
// two initial sequence numbers, with its options in wire order; Match
// compares it with an expectation and names the first field that differs;
// FormatActual prints a wire segment in the notation, for the failure
// message. In the other direction, Segment.AppendOptions writes an
// inbound segment's options exactly as listed, and Segment.Options gives
// them as tcp.Options, as the machine will read them.
package tcptest
