package tcp

// RecvQueueMaxRanges is the most out-of-order ranges a RecvQueue keeps
// beyond RCV.NXT. When a segment would open one more, the highest range
// (the one farthest from RCV.NXT, possibly the new one) is forgotten: its
// data stays where it is in the buffer but is no longer counted as
// received, and is no longer reported in SACK blocks. Forgetting data
// that was SACKed is reneging, which RFC 2018 8 permits; the sender keeps
// every octet until it is cumulatively acknowledged and retransmits it.
// The data nearest RCV.NXT is kept because it is what becomes readable
// first.
const RecvQueueMaxRanges = 64

// MaxRecvCapacity is the largest receive buffer: the largest window TCP
// can offer (RFC 7323 2.3: 2^30 octets, a 16-bit window shifted by 14).
const MaxRecvCapacity = 1 << 30

// recvRange is out-of-order data [start, end) held beyond RCV.NXT.
type recvRange struct {
	start, end Seq
	stamp      uint64 // RecvQueue.clock at the last Write that added to it
}

// FIN states of a RecvQueue.
const (
	finNone    = iota // no FIN seen
	finPending        // a FIN seen beyond RCV.NXT, waiting for the data before it
	finReached        // RCV.NXT counts the FIN: the stream has ended
)

// RecvQueue is the receive buffer of a connection (RFC 9293 3.10.7.4,
// "seventh, process the segment text"): a ring of a fixed capacity holding
// the in-order data the application has not read yet and, beyond RCV.NXT,
// out-of-order data waiting for the gaps before it to fill (RFC 9293
// 3.10.7.4, SHLD-31: "segments with higher beginning sequence numbers
// SHOULD be held for later processing").
//
// The buffer is the window: the free space after the readable data is
// exactly the sequence space [RCV.NXT, RCV.NXT+Window()), and out-of-order
// data is written straight into its place in it, so the window offered
// never promises more than can be held and nothing is copied twice. The
// right edge of the window, RCV.NXT+Window(), never moves left (RFC 9293
// 3.8.6, SHLD-14: the window should not shrink): data arriving in order
// moves RCV.NXT and the readable count by the same amount, and only Read,
// Discard and Grow move the edge, to the right. Scaling the window for the
// header (RFC 7323 2.3) and silly window syndrome avoidance (RFC 9293
// 3.8.6.2.2) are the caller's.
//
// A RecvQueue also tells what to acknowledge: RcvNxt, SACK blocks in the
// order RFC 2018 4 requires, a D-SACK block for the last duplicate
// (RFC 2883), and whether out-of-order data is held (RFC 5681 4.2 asks for
// an immediate ACK then). It knows where a FIN lies once told (SetFIN) and
// counts it in RCV.NXT when the data before it is complete.
//
// The ring is taken lazily: a Write that needs more room than the ring has
// grows it, from one page by doublings up to the capacity, so a
// connection that exchanges a few bytes never holds a full buffer, and
// Release gives it back when empty. It is not safe for concurrent use.
type RecvQueue struct {
	buf      []byte // the ring, at most capacity octets; nil until data comes, and after Release
	capacity int    // the most the queue holds: the receive buffer
	head     int    // index in buf of the first readable octet
	readable int    // in-order octets not yet read
	rcvNxt   Seq    // RCV.NXT: the sequence number of buf[head+readable]

	ranges [RecvQueueMaxRanges]recvRange // out-of-order data, sorted, disjoint, not touching
	n      int                           // ranges in use
	clock  uint64                        // counts out-of-order Writes, for SACK recency

	fin      Seq    // the sequence number of the FIN, when finState != finNone
	finState uint8  // finNone, finPending or finReached
	finStamp uint64 // clock when a pending FIN was recorded, for SACK recency

	dsack    SACKBlock // the duplicate in the last Write, when hasDSACK
	hasDSACK bool

	promised Seq // the furthest right edge advertised (Promise)
}

// NewRecvQueue returns a receive queue holding capacity octets whose next
// expected sequence number is rcvNxt (IRS+1 after the SYN). It panics if
// capacity is negative or more than MaxRecvCapacity.
func NewRecvQueue(capacity int, rcvNxt Seq) *RecvQueue {
	checkRecvCapacity(capacity)
	return &RecvQueue{capacity: capacity, rcvNxt: rcvNxt, promised: rcvNxt}
}

// reset makes q an empty queue of capacity octets expecting rcvNxt, whose
// ring is allocated only when data arrives (see Release).
func (q *RecvQueue) reset(capacity int, rcvNxt Seq) {
	checkRecvCapacity(capacity)
	*q = RecvQueue{capacity: capacity, rcvNxt: rcvNxt, promised: rcvNxt}
}

// Release gives the ring's memory back when it holds nothing, neither
// readable nor out-of-order data, so that an idle connection holds no
// buffer; the next Write that brings data allocates it again. It reports
// whether memory was released.
func (q *RecvQueue) Release() bool {
	if q.readable != 0 || q.n != 0 || q.buf == nil {
		return false
	}
	q.buf, q.head = nil, 0
	return true
}

// Allocated is the memory the ring holds now, from 0 up to Capacity.
func (q *RecvQueue) Allocated() int { return len(q.buf) }

func checkRecvCapacity(capacity int) {
	if capacity < 0 || capacity > MaxRecvCapacity {
		panic("tcp: receive queue capacity out of range")
	}
}

// RcvNxt is RCV.NXT: the next sequence number expected, which is the
// acknowledgment number to send. It counts the FIN once reached.
func (q *RecvQueue) RcvNxt() Seq { return q.rcvNxt }

// Capacity is the size of the buffer.
func (q *RecvQueue) Capacity() int { return q.capacity }

// Window is the free space for data from RCV.NXT on: the capacity less
// the readable data. Out-of-order data held lies inside this space and
// does not reduce it: RCV.WND (RFC 9293 3.3.1) is the sequence space from
// RCV.NXT the receiver will accept, whether or not parts of it have
// arrived already.
func (q *RecvQueue) Window() int { return max(q.capacity-q.readable, 0) }

// Promise records edge as a right edge the window advertised. Write takes
// data up to the furthest edge promised even where it lies past the
// buffer: a scaled window is rounded up rather than moved left (RFC 7323
// 2.3, RFC 9293 3.8.6), so the edge can stand a little beyond the room
// the buffer has, and data the peer was allowed to send must not be
// dropped. The ring grows past the capacity to hold it.
func (q *RecvQueue) Promise(edge Seq) {
	if edge.GreaterThan(q.promised) {
		q.promised = edge
	}
}

// Readable is the number of in-order octets waiting for the application.
func (q *RecvQueue) Readable() int { return q.readable }

// HasOutOfOrder reports whether data, or a FIN, beyond a gap is held.
// RFC 5681 4.2: an out-of-order segment SHOULD be acknowledged at once,
// and so SHOULD a segment that fills a gap in part or whole
// (HasOutOfOrder true before the Write).
func (q *RecvQueue) HasOutOfOrder() bool { return q.n > 0 || q.finState == finPending }

// FINReached reports whether the FIN has been reached: every octet before
// it has arrived and RcvNxt counts it. The application sees the end of
// the stream once it has read Readable() more octets.
func (q *RecvQueue) FINReached() bool { return q.finState == finReached }

// pos is the index in buf of the octet off octets after RCV.NXT, for
// 0 <= off < Window().
func (q *RecvQueue) pos(off int) int {
	p := q.head + q.readable + off
	if p >= len(q.buf) {
		p -= len(q.buf)
	}
	return p
}

// off is how far s lies beyond RCV.NXT.
func (q *RecvQueue) off(s Seq) int { return int(s.Diff(q.rcvNxt)) }

// Write takes in the text of a segment that starts at sequence number seq
// (RFC 9293 3.10.7.4). The part before RCV.NXT is a duplicate and is
// dropped, and so is the part at or beyond RCV.NXT+Window() (or beyond a
// FIN): what is left is copied into its place in the buffer. It returns
// how many octets became readable, which is how far RCV.NXT moved (not
// counting a FIN reached, which RcvNxt counts too): the segment's own new
// octets and the out-of-order data it joins up with. Out-of-order data is
// held, merged with what it touches, and counts as the most recently
// received for SACKBlocks.
//
// Write remembers the first duplicate octets in the segment, below
// RCV.NXT or overlapping held data, for TakeDSACK. A segment without data
// is ignored and changes nothing. The caller is expected to have checked
// that the segment is acceptable (RFC 9293 3.10.7.4), though Write is
// safe with any: a segment wholly outside the window, or one that starts
// more than 2^31 before RCV.NXT (which serial arithmetic places after
// it), only counts as a duplicate or is dropped.
func (q *RecvQueue) Write(seq Seq, data []byte) (accepted int) {
	if len(data) == 0 {
		return 0
	}
	q.hasDSACK = false
	off := int64(q.off(seq))
	end := off + int64(len(data))
	if q.promised.LessThan(q.rcvNxt) {
		q.promised = q.rcvNxt // kept near RCV.NXT, where serial arithmetic holds
	}
	limit := max(int64(q.Window()), int64(q.promised.Diff(q.rcvNxt)))
	if q.finState != finNone {
		// RFC 9293 3.10.7.4: nothing follows a FIN; data beyond it is
		// the peer's error and is dropped.
		limit = min(limit, int64(q.off(q.fin)))
	}
	if off < 0 {
		// RFC 2883 4: a segment at least partly before RCV.NXT is a
		// duplicate; report its duplicate part.
		q.setDSACK(seq, seq.Add(int(min(end, 0)-off)))
	}
	lo, hi := max(off, 0), min(end, limit)
	if lo >= hi {
		return 0
	}
	q.fit(q.readable + int(hi))
	q.copyIn(int(lo), data[lo-off:hi-off])
	if lo > 0 {
		q.insert(int(lo), int(hi))
		return 0
	}
	return q.advance(int(hi))
}

// recvQueueMinAlloc is the first allocation of a receive ring: one page.
const recvQueueMinAlloc = 4096

// fit grows the ring, if it must, to hold need octets from its head on:
// to the smallest doubling of its size (or of recvQueueMinAlloc) that
// does, at most the capacity. The data moves to the start of the new
// ring, keeping every offset from the head.
func (q *RecvQueue) fit(need int) {
	if need <= len(q.buf) {
		return
	}
	size := max(len(q.buf), recvQueueMinAlloc)
	for size < need {
		size *= 2
	}
	nb := make([]byte, max(min(size, q.capacity), need))
	n := copy(nb, q.buf[q.head:])
	copy(nb[n:], q.buf[:q.head])
	q.buf, q.head = nb, 0
}

// copyIn copies b to the buffer from off octets after RCV.NXT on.
func (q *RecvQueue) copyIn(off int, b []byte) {
	p := q.pos(off)
	n := copy(q.buf[p:], b)
	copy(q.buf, b[n:])
}

// setDSACK records [start, end) as the duplicate in this Write, unless one
// is already recorded (RFC 2883 4: one D-SACK block per segment, the first
// duplicate run).
func (q *RecvQueue) setDSACK(start, end Seq) {
	if !q.hasDSACK {
		q.dsack, q.hasDSACK = SACKBlock{start, end}, true
	}
}

// overlapDSACK records the first overlap of [lo, hi) (offsets from
// RCV.NXT) with the held ranges i to j-1 as a duplicate.
func (q *RecvQueue) overlapDSACK(lo, hi, i, j int) {
	for k := i; k < j; k++ {
		r := &q.ranges[k]
		s, e := max(lo, q.off(r.start)), min(hi, q.off(r.end))
		if s < e {
			q.setDSACK(q.rcvNxt.Add(s), q.rcvNxt.Add(e))
			return
		}
	}
}

// advance moves RCV.NXT over in-order data that ends hi octets after it,
// and over the held ranges that data reaches. It returns how far RCV.NXT
// moved, FIN aside.
func (q *RecvQueue) advance(hi int) int {
	k := 0
	for k < q.n && q.off(q.ranges[k].start) <= hi {
		k++
	}
	q.overlapDSACK(0, hi, 0, k)
	if k > 0 {
		hi = max(hi, q.off(q.ranges[k-1].end))
		q.n = copy(q.ranges[:], q.ranges[k:q.n])
	}
	q.readable += hi
	q.rcvNxt = q.rcvNxt.Add(hi)
	q.reachFIN()
	return hi
}

// reachFIN counts a pending FIN in RCV.NXT when the data before it is all
// in (RFC 9293 3.10.7.4, eighth: "advance RCV.NXT over the FIN").
func (q *RecvQueue) reachFIN() {
	if q.finState == finPending && q.rcvNxt == q.fin {
		q.rcvNxt = q.rcvNxt.Add(1)
		q.finState = finReached
	}
}

// insert holds out-of-order data [lo, hi), offsets from RCV.NXT with
// 0 < lo < hi <= Window(), merging it with the ranges it overlaps or
// touches.
func (q *RecvQueue) insert(lo, hi int) {
	q.clock++
	i := 0
	for i < q.n && q.off(q.ranges[i].end) < lo {
		i++
	}
	j := i
	for j < q.n && q.off(q.ranges[j].start) <= hi {
		j++
	}
	q.overlapDSACK(lo, hi, i, j)
	if i == j {
		if q.n == RecvQueueMaxRanges {
			if i == q.n {
				return // the new range is the highest: forget it
			}
			q.n-- // forget the highest
		}
		copy(q.ranges[i+1:q.n+1], q.ranges[i:q.n])
		q.ranges[i] = recvRange{q.rcvNxt.Add(lo), q.rcvNxt.Add(hi), q.clock}
		q.n++
		return
	}
	lo = min(lo, q.off(q.ranges[i].start))
	hi = max(hi, q.off(q.ranges[j-1].end))
	q.ranges[i] = recvRange{q.rcvNxt.Add(lo), q.rcvNxt.Add(hi), q.clock}
	q.n = i + 1 + copy(q.ranges[i+1:], q.ranges[j:q.n])
}

// SetFIN records that the peer's FIN occupies sequence number seq (SEG.SEQ
// plus the segment's data length). If the data before it is all in, RcvNxt
// moves over it at once; otherwise when Write completes that data. Held
// data at or beyond the FIN is dropped, and so is any later data there.
// Only the first FIN counts: later calls, and a FIN before RCV.NXT or
// beyond the window, are ignored (a FIN may lie at RCV.NXT+Window(), just
// past a full window, because it takes no buffer space); the same FIN
// again is a duplicate, reported by TakeDSACK. It reports whether the FIN
// was recorded.
//
// A FIN held beyond a gap is out-of-order data like any other: it is
// reported in SACK blocks, counting one sequence number (as Linux, whose
// out-of-order segment's end_seq counts the FIN), merged with the data
// that ends at it, as the most recently received.
func (q *RecvQueue) SetFIN(seq Seq) bool {
	if q.finState != finNone {
		if seq == q.fin {
			q.dupFIN()
		}
		return false
	}
	off := q.off(seq)
	if off < 0 || off > q.Window() {
		return false
	}
	q.fin, q.finState = seq, finPending
	q.clock++
	q.finStamp = q.clock
	for q.n > 0 && q.off(q.ranges[q.n-1].start) >= off {
		q.n--
	}
	if q.n > 0 && q.off(q.ranges[q.n-1].end) > off {
		q.ranges[q.n-1].end = seq
	}
	q.reachFIN()
	return true
}

// dupFIN records a retransmission of the FIN already recorded as a
// duplicate (RFC 2883 4), counting its sequence number as Linux does: it
// extends the D-SACK block of the data before it, if the Write of the
// same segment made one, or is a block of its own.
func (q *RecvQueue) dupFIN() {
	switch {
	case !q.hasDSACK:
		q.setDSACK(q.fin, q.fin.Add(1))
	case q.dsack.End == q.fin:
		q.dsack.End = q.fin.Add(1)
	}
}

// Read copies readable data to p and frees the space it took, opening the
// window. It returns the number of octets copied.
func (q *RecvQueue) Read(p []byte) int {
	a, b := q.Peek()
	n := copy(p, a)
	n += copy(p[n:], b)
	q.Discard(n)
	return n
}

// Peek returns the readable data as up to two slices of the ring, the
// second non-empty only when the data wraps around its end. They alias the
// buffer and are valid until the next Write, Discard, Read or Grow; Discard
// frees what has been consumed from them.
func (q *RecvQueue) Peek() ([]byte, []byte) {
	end := q.head + q.readable
	if end <= len(q.buf) {
		return q.buf[q.head:end], nil
	}
	return q.buf[q.head:], q.buf[:end-len(q.buf)]
}

// Discard frees the first n readable octets, as Read does without the
// copy. n is clamped to [0, Readable()].
func (q *RecvQueue) Discard(n int) {
	n = min(max(n, 0), q.readable)
	q.readable -= n
	q.head += n
	if q.head >= len(q.buf) {
		q.head -= len(q.buf)
	}
	if q.readable == 0 && q.n == 0 {
		q.head = 0 // nothing held: start over, so that Peek returns one slice
	}
}

// SACKBlocks fills dst with SACK blocks for the held out-of-order data and
// returns how many it wrote: all the ranges held, or len(dst) of them.
// RFC 2018 4: the first block MUST be the one holding the most recently
// received segment, and the others SHOULD repeat the most recently
// reported ones; a block was last reported first when it last took in
// data, so the ranges are given most recently written to first. A caller
// sending a D-SACK block puts it before these (TakeDSACK).
//
// A pending FIN counts as one more octet: it extends the highest range
// when that range ends at it, else it is a block of its own.
func (q *RecvQueue) SACKBlocks(dst []SACKBlock) int {
	n := q.n
	if q.finState == finPending && (n == 0 || q.ranges[n-1].end != q.fin) {
		n++ // the FIN alone, as range q.n
	}
	k := min(len(dst), n)
	last := ^uint64(0)
	for x := range k {
		best, bestStamp := -1, uint64(0)
		for i := range n {
			if _, s := q.sackRange(i); s < last && (best < 0 || s > bestStamp) {
				best, bestStamp = i, s
			}
		}
		dst[x], _ = q.sackRange(best)
		last = bestStamp
	}
	return k
}

// sackRange is the i-th out-of-order range with its recency, the FIN
// counted in: the highest range extended over a pending FIN that it ends
// at, and index q.n the FIN alone when it touches no range.
func (q *RecvQueue) sackRange(i int) (SACKBlock, uint64) {
	if i == q.n {
		return SACKBlock{q.fin, q.fin.Add(1)}, q.finStamp
	}
	r := &q.ranges[i]
	if i == q.n-1 && q.finState == finPending && r.end == q.fin {
		return SACKBlock{r.start, r.end.Add(1)}, max(r.stamp, q.finStamp)
	}
	return SACKBlock{r.start, r.end}, r.stamp
}

// TakeDSACK returns the duplicate run of the last Write, if it had one,
// and forgets it (RFC 2883 4: each duplicate is reported once, in the
// first block of the next SACK option, followed by the SACK blocks, whose
// first then holds the duplicate if it lies beyond RCV.NXT). It is meant
// only for a peer that agreed to SACK.
func (q *RecvQueue) TakeDSACK() (SACKBlock, bool) {
	b, ok := q.dsack, q.hasDSACK
	q.hasDSACK = false
	return b, ok
}

// Grow enlarges the buffer to capacity octets, for receive window
// auto-tuning; the ring grows into it as data comes. A capacity no larger than the present one is ignored: the
// window never shrinks (RFC 9293 3.8.6). It panics if capacity is more
// than MaxRecvCapacity.
func (q *RecvQueue) Grow(capacity int) {
	checkRecvCapacity(capacity)
	if capacity <= q.capacity {
		return
	}
	q.capacity = capacity
}
