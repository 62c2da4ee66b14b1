package stacknet

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
	rdl, wdl deadline
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
