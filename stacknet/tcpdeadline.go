package stacknet

import (
	"sync"
	"time"
)

// tcpWaiters is what the blocked calls of a connection wait on: a
// wake-up token for each side, left by an event that may let a call
// proceed, and the deadlines. Close leaves a token in each, and each call
// that finds the connection closed passes it on, so that one token wakes
// every blocked call in turn. A connection makes them when a call first
// has to wait or a deadline is first set (waitersLocked), so that an idle
// one pays for none of it.
type tcpWaiters struct {
	rwake    chan struct{} // Read may proceed
	wwake    chan struct{} // Write or the handshake may proceed
	rdl, wdl tcpDeadline
}

// waitersLocked returns c's waiters, making them if need be. c.mu is
// held: a call into the machine after this one, and the wake-up it
// gives, find them.
func (c *TCPConn) waitersLocked() *tcpWaiters {
	if w := c.waiters.Load(); w != nil {
		return w
	}
	w := &tcpWaiters{rwake: make(chan struct{}, 1), wwake: make(chan struct{}, 1)}
	c.waiters.Store(w)
	return w
}

// deadlineExpired reports whether the read (or write) deadline has
// passed.
func (c *TCPConn) deadlineExpired(write bool) bool {
	w := c.waiters.Load()
	switch {
	case w == nil:
		return false
	case write:
		return w.wdl.expired()
	}
	return w.rdl.expired()
}

// tcpDeadline is a deadline as deadline.go's, made lazily: its channel
// exists only once a deadline is set or a call waits on it, so a
// connection that does neither pays for no channel.
type tcpDeadline struct {
	mu      sync.Mutex
	timer   *time.Timer
	cancel  chan struct{} // closed when the deadline passes; nil until needed
	stopped bool          // the socket is closed: no timer is armed again
}

// set arms the deadline for t; the zero time means none. It applies to
// calls already blocked, which select on the channel of the moment.
func (d *tcpDeadline) set(t time.Time) {
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

// stop releases the timer, for good.
func (d *tcpDeadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}
