package link

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/stacknet/stacknet/timers"
)

// Impairment describes what happens to frames in one direction. The zero
// value passes every frame untouched.
//
// Decisions are drawn, per frame and in this order, for Loss, Corrupt and
// Duplicate, then for every copy sent for Reorder and Jitter; a probability
// of zero draws nothing. The duplicate of a corrupted frame carries the
// same corruption. Each copy of a duplicated frame is paced, delayed and
// possibly reordered on its own.
type Impairment struct {
	Loss      float64 // probability a frame is dropped
	Duplicate float64 // probability a frame is sent twice
	// Reorder is the probability a frame is held back and sent right after
	// the next one, or ReorderHold after it was due if nothing follows. At
	// most one frame is held at a time.
	Reorder float64
	// Corrupt is the probability one bit is flipped. On an Ethernet device
	// the bit is chosen after the 14-byte header, so that checksums, not
	// MAC filtering, catch it; a frame with no byte after the header is
	// left alone.
	Corrupt float64
	Delay   time.Duration // added to every frame
	// Jitter adds a uniform extra delay in [0, Jitter). It never reorders
	// frames by itself: a frame is never sent before the one ahead of it.
	Jitter time.Duration
	// Rate paces frames to this many bytes per second; 0 means unlimited.
	// Frames waiting for the link queue up like at a router, up to
	// QueueLimit frames (default 1000, counting the one being sent); more
	// are dropped and counted as QueueDrops.
	Rate       int64
	QueueLimit int
	// ReorderHold bounds how long a reordered frame waits for a successor
	// (default 1ms).
	ReorderHold time.Duration
}

// ImpairStats counts what an Impaired did in one direction. Frames counts
// frames offered; the others count the decisions taken. Delayed counts
// copies that were held for later rather than sent at once (Reordered ones
// included).
type ImpairStats struct {
	Frames, Dropped, Duplicated, Reordered, Corrupted, Delayed, QueueDrops uint64
}

const (
	impairDefaultQueue = 1000
	impairDefaultHold  = time.Millisecond
	// impairMaxQueued bounds the frames one direction holds in its delay
	// line (and, on ingress, released but not yet read), so that a sender
	// outrunning a long Delay cannot exhaust memory. Beyond it frames are
	// counted as QueueDrops.
	impairMaxQueued = 1 << 16
	impairMaxFree   = 256 // spare buffers kept per direction
	impairReadBatch = 8   // frames the ingress reader asks the device for
	impairSeedOut   = 0x9e3779b97f4a7c15
	impairSeedIn    = 0xd1b54a32d192ed03
)

// Placement of one copy of a frame, as decided by impairDir.place.
const (
	impairPlaceNow   = iota // send at once: nothing is queued ahead of it
	impairPlaceLater        // queue until its release time
	impairPlaceHold         // hold for reordering
	impairPlaceDrop         // the rate queue is full
)

func (m Impairment) normalize() Impairment {
	if m.QueueLimit <= 0 {
		m.QueueLimit = impairDefaultQueue
	}
	if m.ReorderHold <= 0 {
		m.ReorderHold = impairDefaultHold
	}
	m.Delay = max(m.Delay, 0)
	m.Jitter = max(m.Jitter, 0)
	m.Rate = max(m.Rate, 0)
	return m
}

// timed reports whether frames may have to be held for later.
func (m *Impairment) timed() bool {
	return m.Delay > 0 || m.Jitter > 0 || m.Rate > 0 || m.Reorder > 0
}

// zero reports whether m passes every frame untouched. NaN probabilities
// count as zero.
func (m *Impairment) zero() bool {
	return !(m.Loss > 0 || m.Duplicate > 0 || m.Corrupt > 0) && !m.timed()
}

// Impaired is a Device that drops, duplicates, corrupts, delays, paces and
// reorders the frames of another, independently in each direction, like a
// bad cable or a congested router. It is meant for testing a stack against
// a hostile network.
//
// Decisions come from a pseudo-random generator per direction, seeded from
// the seed given to Impair: the same seed and the same sequence of frames
// through one direction give the same decisions. Concurrent writers can
// change the order in which frames reach the generator, and so the
// decisions.
//
// Egress (WriteFrames) runs on the caller's goroutine and allocates nothing
// while no frame has to wait: loss, corruption and duplication need no
// hand-off, and a corrupted frame is a copy, never the caller's buffer.
// Frames that must wait (Delay, Jitter, Rate, Reorder) are copied into
// pooled buffers and sent by one timer per direction, on the clock's
// goroutine (a time.AfterFunc goroutine for the system clock, the caller of
// Advance for a timers.Fake).
//
// Ingress (ReadFrames) applies loss, corruption and duplication in place on
// the caller's buffers; a duplicate that does not fit is kept for the next
// call. Once the ingress Impairment needs frames to wait, the next
// ReadFrames starts one reader goroutine that reads the device and feeds a
// queue, and every later ReadFrames takes frames from that queue.
//
// Close discards every frame still held, stops the timers and the reader,
// and closes the wrapped device.
type Impaired struct {
	dev   Device
	clock timers.Clock
	out   impairDir
	in    impairIngress
	done  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	err   error // from the wrapped device's Close
}

// An ImpairOption configures Impair.
type ImpairOption func(*Impaired)

// ImpairClock makes the Impaired schedule held frames on c rather than the
// system clock, so that a stack running on a timers.Fake sees delays in
// its own time.
func ImpairClock(c timers.Clock) ImpairOption {
	return func(d *Impaired) { d.clock = c }
}

// Impair wraps dev. Impairment out applies to frames written (egress), in
// to frames read (ingress).
func Impair(dev Device, seed uint64, out, in Impairment, opts ...ImpairOption) *Impaired {
	d := &Impaired{dev: dev, clock: timers.System(), done: make(chan struct{})}
	for _, o := range opts {
		o(d)
	}
	hdr, size := HeaderLen(dev.Kind()), dev.MTU()+HeaderLen(dev.Kind())
	d.out.init(d.clock, rand.NewPCG(seed, seed^impairSeedOut), hdr, size, out, d.sendDue)
	d.in.init(d.clock, rand.NewPCG(seed^impairSeedIn, seed), hdr, size, in, d.in.pushAll)
	d.in.readyCh = make(chan struct{}, 1)
	return d
}

// Stats returns what each direction has done so far.
func (d *Impaired) Stats() (out, in ImpairStats) {
	return d.out.getStats(), d.in.getStats()
}

// SetImpairment changes both directions' impairments. Frames already held
// keep their release times. A change that makes ingress need its reader
// goroutine takes effect at the next ReadFrames.
func (d *Impaired) SetImpairment(out, in Impairment) {
	d.out.set(out)
	d.in.set(in)
}

// MTU returns the wrapped device's MTU.
func (d *Impaired) MTU() int { return d.dev.MTU() }

// HardwareAddr returns the wrapped device's address.
func (d *Impaired) HardwareAddr() net.HardwareAddr { return d.dev.HardwareAddr() }

// Kind returns the wrapped device's kind.
func (d *Impaired) Kind() Kind { return d.dev.Kind() }

// Name is the inner device's name (Namer), or "".
func (d *Impaired) Name() string { return nameOf(d.dev) }

// Close discards held frames, stops every timer and goroutine of d and
// closes the wrapped device. It is safe to call more than once.
func (d *Impaired) Close() error {
	d.once.Do(func() {
		d.out.shut()
		d.in.shut()
		close(d.done)
		d.err = d.dev.Close()
		d.wg.Wait()
	})
	return d.err
}

// WriteFrames impairs frames on their way to the wrapped device. Dropped
// frames count as taken.
func (d *Impaired) WriteFrames(frames [][]byte) (int, error) {
	x := &d.out
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return 0, ErrClosed
	}
	pending := x.q.len() > 0 || x.held != nil
	if !pending && x.imp.zero() {
		x.stats.Frames += uint64(len(frames))
		x.mu.Unlock()
		return d.dev.WriteFrames(frames)
	}
	defer x.mu.Unlock()
	timed := pending || x.imp.timed()
	var now time.Time
	if timed {
		now = x.clock.Now()
	}
	batch, src, spare, scratch := x.batch[:0], x.src[:0], x.spare[:0], 0
	for i, f := range frames {
		bit, copies := x.decide(len(f))
		data, dirty := f, bit >= 0
		for range copies {
			if timed {
				release, how := x.place(now, len(f))
				switch how {
				case impairPlaceDrop:
					x.stats.QueueDrops++
					continue
				case impairPlaceHold, impairPlaceLater:
					x.enqueue(now, x.copyIn(f, bit), release, how == impairPlaceHold)
					continue
				}
			}
			if dirty { // corrupt a copy, once for both duplicates
				data, dirty = x.scratchCopy(scratch, f, bit), false
				scratch++
			}
			batch, src = append(batch, data), append(src, i)
			if x.held != nil { // a reordered frame follows its successor
				batch, src, spare = append(batch, x.held), append(src, i), append(spare, x.held)
				x.held = nil
			}
		}
	}
	n, err := impairWriteAll(d.dev, batch, src, len(frames))
	for _, b := range spare {
		x.put(b)
	}
	clear(batch) // do not keep the caller's frames
	clear(spare)
	x.batch, x.src, x.spare = batch[:0], src[:0], spare[:0]
	return n, err
}

// impairWriteAll writes batch, in which entry k comes from input frame src[k],
// and returns how many of total input frames were taken.
func impairWriteAll(dev Device, batch [][]byte, src []int, total int) (int, error) {
	for done := 0; done < len(batch); {
		n, err := dev.WriteFrames(batch[done:])
		done += max(n, 0)
		if err == nil && n <= 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			if done >= len(batch) {
				return total, err
			}
			return src[done], err
		}
	}
	return total, nil
}

// sendDue is the egress delivery: it writes released frames, dropping them
// if the device fails as a wire would, and recycles their buffers. It runs
// with d.out.mu held.
func (d *Impaired) sendDue(bufs [][]byte) {
	for rest := bufs; len(rest) > 0; {
		n, err := d.dev.WriteFrames(rest)
		if err != nil || n <= 0 {
			break
		}
		rest = rest[n:]
	}
	for _, b := range bufs {
		d.out.put(b)
	}
}
