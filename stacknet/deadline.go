package stacknet

import (
	"sync"
	"time"
)

// deadline is one read or write deadline of a socket, in the manner of
// package net's pipe: wait returns a channel that is closed when the
// deadline passes, and setting a new deadline takes effect on calls already
// blocked, because they select on the channel of the moment. The channel
// is made lazily: it exists only once a deadline is set or a call waits on
// it, so that a socket that does neither (an idle TCP connection) pays for
// none. The zero value is a deadline that has none set.
//
// Deadlines are absolute wall-clock times chosen by the caller, so they use
// the system clock, not the stack's protocol clock.
type deadline struct {
	mu      sync.Mutex
	timer   *time.Timer
	cancel  chan struct{} // closed when the deadline passes; nil until needed
	stopped bool          // the socket is closed: no timer is armed again
}

// set arms the deadline for t; the zero time means none. It applies to
// calls already blocked, which select on the channel of the moment.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		// A setter that found the socket open raced with its Close.
		return
	}
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
func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil {
		d.cancel = make(chan struct{})
	}
	return d.cancel
}

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel != nil && isClosedChan(d.cancel)
}

// stop releases the timer, for good.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

func isClosedChan(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
