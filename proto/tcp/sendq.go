package tcp

// sendQueueMinAlloc is the first allocation of a send ring: one page.
const sendQueueMinAlloc = 4096

// sendQueue is a connection's send buffer (RFC 9293 3.10.2, SEND): a ring
// holding the data from SND.UNA on, sent but not acknowledged and then not
// yet sent, in order. Memory is taken as data is written, grown by
// doubling up to the limit, and given back with Release once the ring is
// empty, so that an idle connection holds none. Segments are sent
// straight from the ring (Slice); nothing is copied twice.
type sendQueue struct {
	buf   []byte // the ring; nil when nothing is held and Release was called
	head  int    // index of the first octet
	n     int    // octets held
	limit int    // the most held: SO_SNDBUF
}

// Len is the number of octets held.
func (q *sendQueue) Len() int { return q.n }

// Free is how many more octets Write would take.
func (q *sendQueue) Free() int { return max(q.limit-q.n, 0) }

// Cap is the memory held by the ring.
func (q *sendQueue) Cap() int { return len(q.buf) }

// Write appends as much of p as the limit allows, growing the ring as
// needed, and returns how much it took.
func (q *sendQueue) Write(p []byte) int {
	k := min(len(p), q.Free())
	if k == 0 {
		return 0
	}
	if q.n+k > len(q.buf) {
		q.grow(q.n + k)
	}
	tail := q.head + q.n
	if tail >= len(q.buf) {
		tail -= len(q.buf)
	}
	c := copy(q.buf[tail:], p[:k])
	copy(q.buf, p[c:k])
	q.n += k
	return k
}

// grow reallocates the ring to hold at least need octets: the smallest
// doubling of its size (or of sendQueueMinAlloc) that does, at most the
// limit (and at least need).
func (q *sendQueue) grow(need int) {
	size := max(len(q.buf), sendQueueMinAlloc)
	for size < need {
		size *= 2
	}
	size = max(min(size, q.limit), need)
	nb := make([]byte, size)
	a, b := q.Slice(0, q.n)
	c := copy(nb, a)
	copy(nb[c:], b)
	q.buf, q.head = nb, 0
}

// Slice returns the n octets from off octets after the first, as up to two
// pieces of the ring (the second non-empty only when they wrap). The
// caller keeps 0 <= off and off+n <= Len().
func (q *sendQueue) Slice(off, n int) (p1, p2 []byte) {
	if n <= 0 {
		return nil, nil
	}
	s := q.head + off
	if s >= len(q.buf) {
		s -= len(q.buf)
	}
	if s+n <= len(q.buf) {
		return q.buf[s : s+n], nil
	}
	return q.buf[s:], q.buf[:n-(len(q.buf)-s)]
}

// Discard drops the first n octets (clamped to [0, Len()]), acknowledged.
func (q *sendQueue) Discard(n int) {
	n = min(max(n, 0), q.n)
	q.n -= n
	q.head += n
	if q.head >= len(q.buf) {
		q.head -= len(q.buf)
	}
	if q.n == 0 {
		q.head = 0
	}
}

// Release gives the ring's memory back if it holds nothing.
func (q *sendQueue) Release() {
	if q.n == 0 {
		q.buf, q.head = nil, 0
	}
}
