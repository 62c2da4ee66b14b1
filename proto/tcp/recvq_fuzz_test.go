package tcp

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
)

// decodeRecvOps reads a RecvQueue run from fuzz input: capacity (2 octets,
// modulo 1024), ISN (4), stream length (2, modulo 4096, plus one), then
// operations of 4 octets each: a kind (modulo 16: 0-9 Write, 10-11 Read,
// 12-13 Discard, 14 Peek, 15 Grow), an offset (2) and a size (1); at
// most 128 of them.
func decodeRecvOps(data []byte) (capacity int, isn Seq, length int, ops []recvOp, ok bool) {
	if len(data) < 8 {
		return 0, 0, 0, nil, false
	}
	capacity = int(binary.BigEndian.Uint16(data)) % 1024
	isn = Seq(binary.BigEndian.Uint32(data[2:]))
	length = 1 + int(binary.BigEndian.Uint16(data[6:]))%4096
	for b := data[8:]; len(b) >= 4 && len(ops) < 128; b = b[4:] {
		off, n := int(binary.BigEndian.Uint16(b[1:]))%length, int(b[3])
		switch k := b[0] % 16; {
		case k < 10:
			ops = append(ops, recvOp{kind: opWrite, off: off, n: n})
		case k < 12:
			ops = append(ops, recvOp{kind: opRead, n: 4 * n})
		case k < 14:
			ops = append(ops, recvOp{kind: opDiscard, n: 4 * n})
		case k < 15:
			ops = append(ops, recvOp{kind: opPeek})
		default:
			ops = append(ops, recvOp{kind: opGrow, n: capacity + 8*n})
		}
	}
	return capacity, isn, length, ops, true
}

// FuzzRecvQueue runs writes, reads, discards, peeks and grows from the
// input on a RecvQueue and on the plain model of recvq_test.go: the data
// read must be the stream, the queue must never hold more than its
// capacity, and every observable must agree with the model (runRecvOps).
func FuzzRecvQueue(f *testing.F) {
	f.Add([]byte("\x00\x64\xff\xff\xff\x00\x01\x00" +
		"\x00\x00\x10\x08\x00\x00\x00\x10\x0a\x00\x00\x40\x00\x00\x08\x08")) // out of order, fill, read
	f.Add([]byte("\x00\x0a\x00\x00\x00\x00\x00\x40" +
		"\x00\x00\x00\x06\x0c\x00\x00\x01\x00\x00\x06\x06\x0e\x00\x00\x00\x0f\x00\x00\x02\x00\x00\x0c\x08")) // ring wrap, grow
	f.Add([]byte("\x00\x40\x7f\xff\xff\xf0\x00\x20" +
		"\x00\x00\x18\x08\x00\x00\x10\x04\x00\x00\x00\x10\x0a\x00\x00\x10")) // FIN out of order
	f.Fuzz(func(t *testing.T, data []byte) {
		capacity, isn, length, ops, ok := decodeRecvOps(data)
		if !ok {
			return
		}
		runRecvOps(t, capacity, isn, length, ops)
	})
}

// recvOpKind is an operation of runRecvOps.
type recvOpKind uint8

const (
	opWrite   recvOpKind = iota // Write stream [off, off+n), SetFIN if it ends the stream
	opRead                      // Read into a buffer of n
	opDiscard                   // Discard(n)
	opPeek                      // Peek
	opGrow                      // Grow(n)
)

type recvOp struct {
	kind   recvOpKind
	off, n int
}

// recvModel is a RecvQueue's behaviour written plainly, octet by octet:
// which stream offsets are held, which are in order, and when each held
// run was last written to.
type recvModel struct {
	capacity, length int
	held             []bool   // by stream offset; meaningful from next on
	stamp            []uint64 // the write that last touched the run holding the octet
	next, read       int      // RCV.NXT and the read position, as offsets
	clock            uint64
	finKnown         bool
	finReached       bool
	dsack            blk
	hasDSACK         bool
}

// runs returns the held runs beyond next, lowest first; with fin, a FIN
// not yet reached counts as the octet at length, as RecvQueue's SACK
// blocks count it.
func (m *recvModel) runs(fin bool) []blk {
	top, lim := min(m.length, m.read+m.capacity), m.length
	if fin && m.finKnown && !m.finReached {
		top, lim = m.length+1, m.length+1
	}
	var out []blk
	for x := m.next; x < top; x++ {
		if m.held[x] && (x == m.next || !m.held[x-1]) {
			y := x
			for y < lim && m.held[y] {
				y++
			}
			out = append(out, blk{x, y})
		}
	}
	return out
}

func (m *recvModel) write(off, n int) int {
	m.hasDSACK = false
	end := off + n
	limit := m.read + m.capacity
	if m.finKnown {
		limit = min(limit, m.length)
	}
	if off < m.next {
		m.dsack, m.hasDSACK = blk{off, min(end, m.next)}, true
	}
	lo, hi := max(off, m.next), min(end, limit)
	if lo >= hi {
		return 0
	}
	for x := lo; x < hi && !m.hasDSACK; x++ {
		if m.held[x] {
			y := x
			for y < hi && m.held[y] {
				y++
			}
			m.dsack, m.hasDSACK = blk{x, y}, true
		}
	}
	for x := lo; x < hi; x++ {
		m.held[x] = true
	}
	if lo > m.next {
		m.clock++
		a, b := lo, hi
		for a > m.next && m.held[a-1] {
			a--
		}
		for b < len(m.held) && m.held[b] {
			b++ // through the FIN, if it is held
		}
		for x := a; x < b; x++ {
			m.stamp[x] = m.clock
		}
		for runs := m.runs(false); len(runs) > RecvQueueMaxRanges; runs = runs[:len(runs)-1] {
			for x := runs[len(runs)-1].lo; x < runs[len(runs)-1].hi; x++ {
				m.held[x] = false
			}
		}
		return 0
	}
	old := m.next
	for m.next < m.length && m.held[m.next] {
		m.next++
	}
	if m.finKnown && m.next == m.length {
		m.finReached = true
	}
	return m.next - old
}

func (m *recvModel) setFIN() bool {
	if m.finKnown || m.length-m.next > m.read+m.capacity-m.next {
		return false
	}
	m.finKnown = true
	m.finReached = m.next == m.length
	if !m.finReached {
		// Held out of order: the FIN's octet joins the run before it and
		// is the most recently received.
		m.held[m.length] = true
		m.clock++
		a := m.length
		for a > m.next && m.held[a-1] {
			a--
		}
		for x := a; x <= m.length; x++ {
			m.stamp[x] = m.clock
		}
	}
	return true
}

// runRecvOps runs ops on a RecvQueue and on recvModel side by side over a
// stream of length octets, checking after each that they agree on
// everything observable: what Write accepts, RcvNxt, Readable, Window,
// the data read, the SACK blocks in order, the D-SACK block, FINReached,
// and that no more than the capacity is ever held.
func runRecvOps(t *testing.T, capacity int, isn Seq, length int, ops []recvOp) {
	t.Helper()
	q := NewRecvQueue(capacity, isn)
	m := &recvModel{capacity: capacity, length: length, held: make([]bool, length+1), stamp: make([]uint64, length+1)}
	dst := make([]SACKBlock, RecvQueueMaxRanges+1)
	buf := make([]byte, 0, 1024)
	for i, o := range ops {
		switch o.kind {
		case opWrite:
			off := min(max(o.off, 0), length)
			n := min(max(o.n, 0), length-off)
			if got, want := q.Write(isn.Add(off), stream(off, n)), m.write(off, n); got != want {
				t.Fatalf("op %d Write [%d, %d): accepted %d, model %d", i, off, off+n, got, want)
			}
			if n > 0 {
				d, ok := q.TakeDSACK()
				var want SACKBlock
				if m.hasDSACK {
					want = toBlocks(isn, []blk{m.dsack})[0]
				}
				if ok != m.hasDSACK || ok && d != want {
					t.Fatalf("op %d Write [%d, %d): TakeDSACK %v %v, model %v %v", i, off, off+n, d, ok, want, m.hasDSACK)
				}
			}
			if off+n == length {
				if got, want := q.SetFIN(isn.Add(length)), m.setFIN(); got != want {
					t.Fatalf("op %d SetFIN: %v, model %v", i, got, want)
				}
			}
		case opRead:
			k := min(max(o.n, 0), cap(buf))
			got := q.Read(buf[:k])
			want := min(k, m.next-m.read)
			if got != want || !bytes.Equal(buf[:got], stream(m.read, want)) {
				t.Fatalf("op %d Read(%d): % x, model % x", i, k, buf[:got], stream(m.read, want))
			}
			m.read += want
		case opDiscard:
			q.Discard(o.n)
			m.read += min(max(o.n, 0), m.next-m.read)
		case opPeek:
			a, b := q.Peek()
			if got := append(append(buf[:0], a...), b...); !bytes.Equal(got, stream(m.read, m.next-m.read)) {
				t.Fatalf("op %d Peek: % x, model % x", i, got, stream(m.read, m.next-m.read))
			}
		case opGrow:
			n := min(max(o.n, 0), 1<<16)
			q.Grow(n)
			m.capacity = max(m.capacity, n)
		}
		fin := 0
		if m.finReached {
			fin = 1
		}
		if got, want := q.RcvNxt(), isn.Add(m.next+fin); got != want {
			t.Fatalf("op %d %+v: RcvNxt %#x, model %#x", i, o, got, want)
		}
		if q.Readable() != m.next-m.read || q.Window() != m.capacity-(m.next-m.read) || q.Capacity() != m.capacity {
			t.Fatalf("op %d %+v: Readable %d, Window %d, Capacity %d; model %d, %d, %d", i, o,
				q.Readable(), q.Window(), q.Capacity(), m.next-m.read, m.capacity-(m.next-m.read), m.capacity)
		}
		if q.FINReached() != m.finReached {
			t.Fatalf("op %d %+v: FINReached %v, model %v", i, o, q.FINReached(), m.finReached)
		}
		runs := m.runs(true)
		slices.SortStableFunc(runs, func(a, b blk) int {
			switch sa, sb := m.stamp[a.lo], m.stamp[b.lo]; {
			case sa > sb:
				return -1
			case sa < sb:
				return 1
			}
			return 0
		})
		want := toBlocks(isn, runs)
		if got := dst[:q.SACKBlocks(dst)]; !slices.Equal(got, want) {
			t.Fatalf("op %d %+v: SACKBlocks %v, model %v", i, o, got, want)
		}
		if got := dst[:q.SACKBlocks(dst[:3])]; !slices.Equal(got, want[:min(3, len(want))]) {
			t.Fatalf("op %d %+v: SACKBlocks into 3: %v, model %v", i, o, got, want[:min(3, len(want))])
		}
		if q.HasOutOfOrder() != (len(runs) > 0) {
			t.Fatalf("op %d %+v: HasOutOfOrder %v with %d runs", i, o, q.HasOutOfOrder(), len(runs))
		}
		held := q.Readable()
		for _, r := range m.runs(false) {
			held = max(held, r.hi-m.read)
		}
		if held > q.Capacity() {
			t.Fatalf("op %d %+v: holding %d octets in a buffer of %d", i, o, held, q.Capacity())
		}
	}
}
