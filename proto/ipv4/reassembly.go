package ipv4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/stacknet/stacknet/timers"
)

// Errors of Reassembler.Add, each the reason a fragment (and sometimes its
// whole datagram) is dropped.
var (
	ErrOverlap          = errors.New("ipv4: overlapping or inconsistent fragments")
	ErrTooBig           = errors.New("ipv4: fragments exceed the largest datagram")
	ErrBadFragment      = errors.New("ipv4: bad fragment")
	ErrReasmMemory      = errors.New("ipv4: reassembly memory exhausted")
	ErrTooManyFragments = errors.New("ipv4: too many fragments in one datagram")
	ErrReasmClosed      = errors.New("ipv4: reassembler closed")
)

// Defaults of ReasmConfig.
const (
	DefaultReasmTimeout      = 30 * time.Second
	DefaultReasmMaxBytes     = 4 << 20
	DefaultReasmMaxFragments = 256
)

// Memory charged besides the fragment data, so that a flood of tiny
// fragments or of first fragments of distinct datagrams is bounded too.
const (
	datagramOverhead = 256 // per pending datagram: its struct, map entry and timer
	fragmentOverhead = 32  // per stored fragment: slice header and allocation rounding
)

// ReasmConfig tunes a Reassembler. The zero value gives the defaults.
type ReasmConfig struct {
	// Timeout is how long the fragments of a datagram are kept after the
	// first of them arrives; 0 means 30 s (RFC 1122 3.3.2 recommends
	// 60 to 120 s; Linux uses 30 s).
	Timeout time.Duration
	// MaxBytes bounds the memory of all pending datagrams; 0 means 4 MiB.
	// A fragment that would exceed it evicts the oldest datagrams.
	MaxBytes int
	// MaxFragments bounds the fragments of one datagram; 0 means 256.
	// A datagram with more is dropped whole.
	MaxFragments int
}

// ReasmStats are the reassembly counters (named after the IP-MIB of
// RFC 4293: ipSystemStatsReasmReqds, ReasmOKs, ReasmFails) and the current
// occupancy.
type ReasmStats struct {
	ReasmReqds  uint64 // fragments received
	ReasmOKs    uint64 // datagrams reassembled
	ReasmFails  uint64 // failures detected, of any kind below (not a count of fragments)
	Timeouts    uint64 // datagrams that timed out incomplete
	Overlaps    uint64 // datagrams dropped for overlapping or inconsistent fragments
	Duplicates  uint64 // exact duplicate fragments ignored
	MemoryDrops uint64 // datagrams dropped to keep within MaxBytes
	Pending     int    // datagrams being reassembled (or blocked after an overlap)
	Bytes       int    // memory charged to them
}

// Reassembler puts fragmented datagrams back together (RFC 791 3.2, with
// the hole bookkeeping of RFC 815 done as a sorted list of the received
// fragments). Fragments that overlap drop the whole datagram, as RFC 5722
// requires for IPv6; later fragments of it are dropped until its timeout
// so that no datagram is built from a mix of versions. It is safe for
// concurrent use.
type Reassembler struct {
	timeout   time.Duration
	maxBytes  int
	maxFrags  int
	ts        *timers.Service
	ownTS     bool
	onTimeout func(first []byte)

	mu             sync.Mutex
	pending        map[reasmKey]*datagram
	oldest, newest *datagram // age list, by arrival of the first fragment
	bytes          int
	closed         bool
	stats          ReasmStats
}

// reasmKey identifies the fragments of one datagram (RFC 791 3.2: source,
// destination, protocol and identification).
type reasmKey struct {
	src, dst [4]byte
	id       uint16
	proto    uint8
}

// fragment is the data of one received fragment.
type fragment struct {
	off  int
	data []byte // a copy
}

func (f *fragment) end() int { return f.off + len(f.data) }

// datagram is one datagram being reassembled.
type datagram struct {
	key        reasmKey
	timer      timers.Timer
	frags      []fragment // sorted by offset, disjoint, within [0, total)
	first      []byte     // the header of the fragment at offset 0, a copy
	total      int        // payload length, known from the last fragment; -1 before
	have       int        // payload bytes held
	charged    int        // bytes charged to the reassembler
	ce         bool       // a fragment carried ECN CE (RFC 3168 5.3)
	dead       bool       // dropped after an overlap; absorbs fragments until its timeout
	gone       bool       // removed from the reassembler
	prev, next *datagram  // age list
}

// NewReassembler returns a reassembler whose timeouts run on ts (if ts is
// nil it makes a service on the system clock and closes it on Close).
// When a datagram times out incomplete and its first fragment (offset 0)
// had arrived, onTimeout (if not nil) is called with no lock held, with a
// copy of that fragment's header and first 8 data bytes, so that the
// stack can send ICMP time exceeded, code 1 (RFC 792; RFC 1122 3.3.2:
// only if fragment zero is available).
func NewReassembler(cfg ReasmConfig, ts *timers.Service, onTimeout func(first []byte)) *Reassembler {
	r := &Reassembler{
		timeout:   cfg.Timeout,
		maxBytes:  cfg.MaxBytes,
		maxFrags:  cfg.MaxFragments,
		ts:        ts,
		onTimeout: onTimeout,
		pending:   make(map[reasmKey]*datagram),
	}
	if r.timeout <= 0 {
		r.timeout = DefaultReasmTimeout
	}
	if r.maxBytes <= 0 {
		r.maxBytes = DefaultReasmMaxBytes
	}
	if r.maxFrags <= 0 {
		r.maxFrags = DefaultReasmMaxFragments
	}
	if r.ts == nil {
		r.ts = timers.New(nil)
		r.ownTS = true
	}
	return r
}

// Add takes one fragment, h, which Parse accepted and for which
// h.IsFragment() holds; Add copies what it keeps. While the datagram is
// incomplete it returns (nil, nil). When h completes it, Add returns the
// whole datagram in a new buffer owned by the caller: the header of the
// first fragment with MF and the offset cleared and the total length and
// checksum recomputed, then the data.
//
// An exact duplicate of a fragment held (same offset, length and bytes) is
// ignored. Errors:
//   - ErrBadFragment: h is not a fragment, is empty, or is not the last
//     and its length is not a multiple of 8 (RFC 791 3.2).
//   - ErrTooBig: the fragment ends beyond the largest datagram (the
//     "ping of death"), or the datagram would.
//   - ErrOverlap: h overlaps data held, or disagrees about where the
//     datagram ends; the datagram is dropped whole, and so are its later
//     fragments until the timeout.
//   - ErrTooManyFragments: the datagram has MaxFragments already; it is
//     dropped whole, as after an overlap.
//   - ErrReasmMemory: h does not fit within MaxBytes even after evicting
//     every older datagram; its datagram is dropped.
//   - ErrReasmClosed: after Close.
func (r *Reassembler) Add(h Header) (Header, error) {
	if len(h) < HeaderLen || h.HeaderLen() < HeaderLen || h.HeaderLen() > len(h) || !h.IsFragment() {
		return nil, ErrBadFragment
	}
	hl := h.HeaderLen()
	data := h[hl:]
	off := h.FragOffset()
	end := off + len(data)
	last := !h.MF()

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrReasmClosed
	}
	r.stats.ReasmReqds++
	// RFC 791 3.2: every fragment but the last carries a multiple of 8
	// bytes; an empty fragment carries nothing and would only cost memory.
	if len(data) == 0 || (!last && len(data)%8 != 0) {
		r.stats.ReasmFails++
		return nil, ErrBadFragment
	}
	if end > MaxDatagram-HeaderLen {
		r.stats.ReasmFails++
		return nil, ErrTooBig
	}

	k := reasmKey{src: h.Src4(), dst: h.Dst4(), id: h.ID(), proto: h.Protocol()}
	d := r.pending[k]
	i := 0
	if d != nil {
		if d.dead {
			return nil, ErrOverlap
		}
		var dup, bad bool
		i, dup, bad = d.place(off, end, last, data)
		if dup {
			r.stats.Duplicates++
			return nil, nil
		}
		if bad {
			r.stats.Overlaps++
			r.stats.ReasmFails++
			r.kill(d)
			return nil, ErrOverlap
		}
		if len(d.frags) >= r.maxFrags {
			r.stats.ReasmFails++
			r.kill(d)
			return nil, ErrTooManyFragments
		}
	}

	need := len(data) + fragmentOverhead
	if off == 0 {
		need += hl
	}
	if d == nil {
		need += datagramOverhead
	}
	if !r.reserve(need, d) {
		r.stats.MemoryDrops++
		r.stats.ReasmFails++
		if d != nil {
			r.remove(d)
		}
		return nil, ErrReasmMemory
	}
	if d == nil {
		d = &datagram{key: k, total: -1}
		r.pending[k] = d
		r.link(d)
		d.timer.Init(r.ts, func() { r.expire(d) })
		d.timer.Reset(r.timeout)
	}
	d.charged += need
	r.bytes += need
	d.frags = slices.Insert(d.frags, i, fragment{off: off, data: bytes.Clone(data)})
	d.have += len(data)
	if off == 0 {
		d.first = bytes.Clone(h[:hl])
	}
	if last {
		d.total = end
	}
	if h.TOS()&ecnMask == ecnCE {
		d.ce = true
	}
	if d.have != d.total {
		return nil, nil
	}
	// The fragments are disjoint and lie within [0, total), so holding
	// total bytes means no hole is left (RFC 815's hole list is empty).
	out, err := d.build()
	r.remove(d)
	if err != nil {
		r.stats.ReasmFails++
		return nil, err
	}
	r.stats.ReasmOKs++
	return out, nil
}

// ECN field of the TOS byte (RFC 3168 5).
const (
	ecnMask = 0x03
	ecnCE   = 0x03
)

// place finds where a fragment [off, end) goes in d.frags. It reports an
// exact duplicate, or bad if the fragment overlaps data held or disagrees
// with the fragments held about where the datagram ends.
func (d *datagram) place(off, end int, last bool, data []byte) (i int, dup, bad bool) {
	if d.total >= 0 {
		// The end is known: a last fragment must end there, any other
		// before it.
		if last && end != d.total || !last && end >= d.total {
			return 0, false, true
		}
	} else if last && len(d.frags) > 0 && d.frags[len(d.frags)-1].end() >= end {
		// A last fragment must end beyond every other fragment.
		return 0, false, true
	}
	i, found := slices.BinarySearchFunc(d.frags, off, func(f fragment, off int) int { return f.off - off })
	if found && bytes.Equal(d.frags[i].data, data) {
		return i, true, false
	}
	// Overlap with the fragment before, or with the one at or after off
	// (which includes one at the same offset that is not a duplicate).
	if i > 0 && d.frags[i-1].end() > off || i < len(d.frags) && d.frags[i].off < end {
		return i, false, true
	}
	return i, false, false
}

// build returns the reassembled datagram.
func (d *datagram) build() (Header, error) {
	hl := len(d.first)
	if hl+d.total > MaxDatagram {
		return nil, ErrTooBig
	}
	b := make([]byte, hl+d.total)
	copy(b, d.first)
	for i := range d.frags {
		copy(b[hl+d.frags[i].off:], d.frags[i].data)
	}
	h := Header(b)
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	binary.BigEndian.PutUint16(b[6:8], h.FlagsOffset()&^(FlagMF|offMask))
	// RFC 3168 5.3: if any fragment was marked CE, so is the datagram
	// (when its ECN field says ECN-capable).
	if d.ce && b[1]&ecnMask != 0 {
		b[1] |= ecnCE
	}
	h.SetChecksum()
	return h, nil
}

// reserve makes room for need more bytes by evicting the oldest datagrams
// other than d, and reports whether they fit.
func (r *Reassembler) reserve(need int, d *datagram) bool {
	for r.bytes+need > r.maxBytes {
		v := r.oldest
		if v == d {
			v = v.next
		}
		if v == nil {
			return false
		}
		r.stats.MemoryDrops++
		r.stats.ReasmFails++
		r.remove(v)
	}
	return true
}

// kill drops the data of d but keeps it, dead, until its timeout, so
// that its later fragments are dropped too.
func (r *Reassembler) kill(d *datagram) {
	keep := datagramOverhead
	r.bytes -= d.charged - keep
	d.charged = keep
	d.frags, d.first = nil, nil
	d.have = 0
	d.dead = true
}

// expire runs when d's timer fires.
func (r *Reassembler) expire(d *datagram) {
	r.mu.Lock()
	if d.gone {
		r.mu.Unlock()
		return
	}
	var first []byte
	if !d.dead {
		r.stats.Timeouts++
		r.stats.ReasmFails++
		if d.first != nil && len(d.frags) > 0 && d.frags[0].off == 0 {
			// RFC 792: the internet header plus the first 64 bits of data.
			f := d.frags[0].data
			first = append(slices.Clip(d.first), f[:min(8, len(f))]...)
		}
	}
	r.remove(d)
	cb := r.onTimeout
	r.mu.Unlock()
	if first != nil && cb != nil {
		cb(first)
	}
}

// link appends d to the age list.
func (r *Reassembler) link(d *datagram) {
	d.prev = r.newest
	if r.newest != nil {
		r.newest.next = d
	} else {
		r.oldest = d
	}
	r.newest = d
}

// remove forgets d and releases its memory.
func (r *Reassembler) remove(d *datagram) {
	d.timer.Stop()
	delete(r.pending, d.key)
	if d.prev != nil {
		d.prev.next = d.next
	} else {
		r.oldest = d.next
	}
	if d.next != nil {
		d.next.prev = d.prev
	} else {
		r.newest = d.prev
	}
	d.prev, d.next = nil, nil
	r.bytes -= d.charged
	d.charged = 0
	d.frags, d.first = nil, nil
	d.gone = true
}

// Stats returns the counters and the current occupancy.
func (r *Reassembler) Stats() ReasmStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Pending = len(r.pending)
	s.Bytes = r.bytes
	return s
}

// Close drops every pending datagram and stops their timers; Add then
// fails with ErrReasmClosed. No datagram times out after Close returns
// (an onTimeout call already under way may still be running).
func (r *Reassembler) Close() {
	r.mu.Lock()
	r.closed = true
	for r.oldest != nil {
		r.remove(r.oldest)
	}
	r.mu.Unlock()
	if r.ownTS {
		r.ts.Close()
	}
}
