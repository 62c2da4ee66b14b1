// Package tcp is TCP's connection state machine, Conn, and the parts it
// is built from: the wire format, sequence-number arithmetic, initial
// sequence numbers and SYN cookies, the receive queue and the SACK
// scoreboard, the retransmission timer and congestion control. Every part
// is pure: time is passed in, nothing reads a clock, blocks or starts a
// goroutine.
//
// What it implements:
//
//   - Conn (conn*.go, sendq.go): one connection, RFC 9293 3.10, all
//     eleven states with simultaneous open and close, driven by Input,
//     Timer and the user calls, sending through an Emitter with no
//     allocation per segment. Options as Linux negotiates and lays them
//     out (MSS, window scale, SACK-permitted, timestamps), PAWS and
//     TS.Recent (RFC 7323), RFC 5961's defences (challenge ACKs for RST
//     and SYN, rate limited as tcp_invalid_ratelimit, and ACK range
//     checks), RFC 6298 retransmission with Linux's limits (SYN 6
//     retries, SYN-ACK 5, data 15 backoffs, user timeout of RFC 5482),
//     fast retransmit with NewReno recovery (RFC 5681, RFC 6582) and SACK
//     recovery (RFC 6675 NextSeg rules 1 and 2), limited transmit (RFC
//     3042), go-back-N after a timeout that skips SACKed data, delayed
//     ACKs (40 ms, every second full segment, at once for out-of-order
//     data, holes, FINs, and Linux's quick-ACK start), SACK and D-SACK
//     blocks (RFC 2018, RFC 2883), silly window avoidance on both sides
//     (RFC 1122 4.2.3.3 and 4.2.3.4, with Minshall's Nagle), window
//     updates after a Read as Linux's __tcp_cleanup_rbuf, receive buffer
//     auto-tuning (Linux's dynamic right-sizing), zero-window probing,
//     keepalive, TIME-WAIT (2 MSL, RFC 1337, RFC 6191 reuse), orphan
//     FIN-WAIT-2 timeout, abortive close (RFC 2525 2.17), urgent data in
//     line (RFC 6093), soft ICMP errors and path MTU (RFC 1191). Send and
//     receive buffers are taken only while they hold data, so an idle
//     connection holds about 2.5 KiB.
//
//   - Seq (seq.go): sequence numbers modulo 2^32 (RFC 9293 3.4), compared
//     with serial number arithmetic (RFC 1982 3.2) rather than Go's <, with
//     the range and window tests of RFC 9293 3.4 and 3.10.7.4.
//
//   - Header (header.go): a zero-copy view of a segment (RFC 9293 3.1).
//     Parse checks the length and the data offset; Verify checks the
//     checksum over the IPv4 pseudo-header, where zero is an ordinary
//     value (TCP, unlike UDP, always carries one). PutHeader builds a
//     header and its options in place in front of a payload already in
//     the buffer, and Put adds the checksum in one pass over the segment;
//     neither allocates. Flags print in tcpdump's notation ("S.", "FP.").
//
//   - Options (options.go): the options of RFC 9293 3.2 (End of Option
//     List, No-Operation, Maximum Segment Size), RFC 7323 (Window Scale,
//     with a shift above 14 read as 14, and Timestamps) and RFC 2018
//     (SACK-Permitted, SACK), parsed into a struct without allocating and
//     written in the layout Linux uses, every option aligned to 32 bits
//     with NOPs. An option list whose lengths cannot be walked, or a known
//     option with the wrong length, is an error; RFC 9293 3.1 (MUST-7)
//     leaves the response to the caller.
//
//   - ISNGen (isn.go): initial sequence numbers as RFC 6528 3 defines
//     them, ISN = M + F(4-tuple, secret), with M the 4-microsecond clock
//     of RFC 9293 3.4.1 and F a keyed SHA-256, so that the ISNs of one
//     4-tuple increase with time while other connections' cannot be
//     predicted; also the stack's 1 ms timestamp clock and a keyed
//     per-address-pair offset that hides it (RFC 7323 5.4, 7.1).
//
//   - SynCookies (syncookie.go): SYN cookies (RFC 4987 3.6) for a
//     listener whose SYN queue is full: the SYN-ACK's ISS carries a
//     28-bit keyed MAC of the 4-tuple, the peer's ISN and a 64-second
//     counter, with the counter's low bits and an MSS table index;
//     cookies live 128 to 192 seconds. With timestamps, window scale,
//     SACK-permitted and ECN ride in the TSval's low 6 bits, as on Linux;
//     without them only the MSS survives.
//
//   - RecvQueue (recvq.go): the receive buffer (RFC 9293 3.10.7.4), a
//     ring whose free space is the window, so out-of-order data (at most
//     RecvQueueMaxRanges ranges, the highest forgotten beyond that:
//     reneging, RFC 2018 8) never makes the window promise more than
//     fits. It reports RCV.NXT (counting a FIN once the data before it is
//     in), SACK blocks most recently received first (RFC 2018 4), a
//     D-SACK block for the last duplicate (RFC 2883) and whether
//     out-of-order data is held (RFC 5681 4.2).
//
//   - Scoreboard (scoreboard.go): the sender's record of SACKed data
//     (RFC 2018, RFC 6675 3) and the queries of RFC 6675 4: IsLost,
//     NextSeg rules (1), (3) and (4), and SetPipe (Pipe); a D-SACK first
//     block (RFC 2883 4) is recognised and kept out. Edges are exclusive:
//     highRxt is RFC 6675's HighRxt plus one.
//
//   - RTO (rto.go): the retransmission timeout of RFC 6298 (alpha 1/8,
//     beta 1/4, 1 ms granularity, exponential backoff), bounded as Linux
//     bounds it to [200 ms, 120 s] (RFC 6298 2.4 asks for a 1 s floor).
//     Karn's rule, with the timestamps exception of RFC 7323 4, is the
//     caller's to apply.
//
//   - CongestionControl (cc.go, newreno.go, cubic.go): the congestion
//     window and slow start threshold in bytes, driven with the current
//     time. NewReno is RFC 5681 with Appropriate Byte Counting (RFC 3465)
//     and RFC 6582's responses to loss; CUBIC, the default as in Linux, is
//     RFC 9438 with HyStart++ (RFC 9406) in the first slow start. Both
//     start from RFC 6928's initial window, grow only when limited by
//     cwnd (RFC 7661), restart after idle (RFC 5681 4.1), and hold cwnd at
//     ssthresh through loss recovery, so the machine sends while
//     pipe < cwnd (RFC 6675) or uses PRR (RFC 6937).
//
// What it leaves out: the TCP MD5 Signature option (RFC 2385), the TCP
// Authentication Option (RFC 5925), TCP Fast Open (RFC 7413: data on a
// SYN is not taken),
// Multipath TCP (RFC 8684) and experimental options (RFC 6994) are
// recognised by their length and skipped, not interpreted. ECN's own
// congestion response (RFC 3168), undo of spurious reductions (RFC 9438
// 4.9) and pacing are not in congestion control yet; the machine sends
// no ECN-setup SYN. Urgent data is delivered in line and the machine
// never sends URG. SACK recovery leaves out RFC 6675's rules 3 and 4
// (as Linux), and Proportional Rate Reduction (RFC 6937), F-RTO and
// RACK-TLP are not implemented. IPv6 pseudo-headers,
// Accurate ECN (the AE bit is one of the reserved bits, written as zero)
// and segmentation offloads are not supported.
package tcp
