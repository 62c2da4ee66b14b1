// Package tcp holds the wire format of TCP and its sequence-number
// arithmetic: the groundwork on which the TCP state machine (a later
// issue) is built. It keeps no state and nothing in it blocks.
//
// What it implements:
//
//   - Seq (seq.go): sequence numbers modulo 2^32 (RFC 9293 3.4), compared
//     with serial number arithmetic (RFC 1982 3.2) rather than Go's <, with
//     the range and window tests of RFC 9293 3.4 and 3.10.7.4.
//   - Header (header.go): a zero-copy view of a segment (RFC 9293 3.1).
//     Parse checks the length and the data offset; Verify checks the
//     checksum over the IPv4 pseudo-header, where zero is an ordinary
//     value (TCP, unlike UDP, always carries one). PutHeader builds a
//     header and its options in place in front of a payload already in
//     the buffer, and Put adds the checksum in one pass over the segment;
//     neither allocates. Flags print in tcpdump's notation ("S.", "FP.").
//   - Options (options.go): the options of RFC 9293 3.2 (End of Option
//     List, No-Operation, Maximum Segment Size), RFC 7323 (Window Scale,
//     with a shift above 14 read as 14, and Timestamps) and RFC 2018
//     (SACK-Permitted, SACK), parsed into a struct without allocating and
//     written in the layout Linux uses, every option aligned to 32 bits
//     with NOPs. An option list whose lengths cannot be walked, or a known
//     option with the wrong length, is an error; RFC 9293 3.1 (MUST-7)
//     leaves the response to the caller.
//
// What it leaves out: the TCP MD5 Signature option (RFC 2385), the TCP
// Authentication Option (RFC 5925), TCP Fast Open cookies (RFC 7413),
// Multipath TCP (RFC 8684) and experimental options (RFC 6994) are
// recognised by their length and skipped, not interpreted. Urgent data is
// carried in the header but given no meaning here. IPv6 pseudo-headers,
// Accurate ECN (the AE bit is one of the reserved bits, written as zero)
// and segmentation offloads are not supported.
package tcp
