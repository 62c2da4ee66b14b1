package stacknet

import (
	"sync"
	"time"
)

// tcpDeadline is a deadline as deadline.go's, made lazily: its channel
// exists only once a deadline is set or a call waits on it, so a
// connection that does neither pays for no channel.
type tcpDeadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // closed when the deadline passes; nil until needed
}

// set arms the deadline for t; the zero time means none. It applies to
// calls already blocked, which select on the channel of the moment.
func (d *tcpDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil {
		if t.IsZero() {
			return
		}
		d.cancel = make(chan struct{})
	}
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait for it to close cancel
	}
	d.timer = nil
	closed := isClosedChan(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// wait returns the channel that is closed when the deadline passes. A
// deadline set later, while the caller waits, closes this channel.
func (d *tcpDeadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil {
		d.cancel = make(chan struct{})
	}
	return d.cancel
}

// expired reports whether the deadline has passed.
func (d *tcpDeadline) expired() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel != nil && isClosedChan(d.cancel)
}

// stop releases the timer.
func (d *tcpDeadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
	}
}
