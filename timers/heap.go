package timers

// The Service keeps its armed timers in an indexed 4-ary min-heap. Each
// entry carries its key (deadline and scheduling sequence) next to the
// *Timer, so sifting compares plain integers in one contiguous slice
// without following pointers; each Timer records its own position (plus
// one, so that the zero Timer reads as unarmed), so Stop and Reset find it
// in O(1) and repair the heap in O(log n).
//
// A 4-ary heap is half as deep as a binary one: pushes and moves towards
// the root (the common case, arming a new timer) do half the work, and the
// four children compared on the way down sit in one or two cache lines.

// entry is one armed timer in the heap.
type entry struct {
	when int64  // deadline, nanoseconds since Service.base
	seq  uint64 // scheduling order, breaks ties between equal deadlines
	t    *Timer
}

// before reports whether a fires before b.
func (a *entry) before(b *entry) bool {
	return a.when < b.when || (a.when == b.when && a.seq < b.seq)
}

// heap4 is an indexed 4-ary min-heap of entries.
type heap4 []entry

// push adds e and records its position in e.t.
func (h *heap4) push(e entry) {
	*h = append(*h, e)
	h.up(len(*h) - 1)
}

// remove takes out the entry at position j and marks its timer unarmed.
func (h *heap4) remove(j int) {
	s := *h
	n := len(s) - 1
	s[j].t.i = 0
	if j != n {
		s[j] = s[n]
		s[j].t.i = j + 1
	}
	s[n] = entry{}
	*h = s[:n]
	if j != n {
		h.fix(j)
	}
}

// fix restores the heap order after the key at position j changed.
func (h heap4) fix(j int) {
	if !h.down(j) {
		h.up(j)
	}
}

func (h heap4) up(j int) {
	e := h[j]
	for j > 0 {
		p := (j - 1) / 4
		if !e.before(&h[p]) {
			break
		}
		h[j] = h[p]
		h[j].t.i = j + 1
		j = p
	}
	h[j] = e
	e.t.i = j + 1
}

// down sifts the entry at j towards the leaves and reports whether it
// moved.
func (h heap4) down(j int) bool {
	n := len(h)
	e := h[j]
	j0 := j
	for {
		c := 4*j + 1
		if c >= n {
			break
		}
		m := c
		for k, end := c+1, min(c+4, n); k < end; k++ {
			if h[k].before(&h[m]) {
				m = k
			}
		}
		if !h[m].before(&e) {
			break
		}
		h[j] = h[m]
		h[j].t.i = j + 1
		j = m
	}
	h[j] = e
	e.t.i = j + 1
	return j != j0
}
