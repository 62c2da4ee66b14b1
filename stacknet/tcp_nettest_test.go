package stacknet

import (
	"net"
	"testing"

	"golang.org/x/net/nettest"
)

// nettest.TestConn checks what the net.Conn contract promises: data in
// order under racing reads and writes, deadlines in the past, present and
// future, Close unblocking everything, every method safe concurrently.
// The issue requires it to pass under -race many times in a row:
//
//	go test -race -count=10 -run 'TestTCPNettest' ./stacknet

// pipeMaker returns a nettest.MakePipe that dials ln with dial and gives
// the dialed end as c1 and the accepted one as c2, or the other way round
// when swap is set.
func pipeMaker(ln net.Listener, dial func() (net.Conn, error), swap bool) nettest.MakePipe {
	return func() (c1, c2 net.Conn, stop func(), err error) {
		dialed, accepted, err := dialAccept(ln, dial)
		if err != nil {
			return nil, nil, nil, err
		}
		stop = func() {
			dialed.Close()
			accepted.Close()
		}
		if swap {
			return accepted, dialed, stop, nil
		}
		return dialed, accepted, stop, nil
	}
}

// TestTCPNettestPipe runs nettest.TestConn over two stacks on an
// in-memory wire, with the dialing end first and then the accepting one
// as c1 (nettest's tests are not symmetric).
func TestTCPNettestPipe(t *testing.T) {
	for _, tc := range []struct {
		name string
		swap bool
	}{{"dialer-first", false}, {"acceptor-first", true}} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pair(t, Config{})
			ln, err := b.Listen("tcp", "192.0.2.2:7000")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			nettest.TestConn(t, pipeMaker(ln, func() (net.Conn, error) { return a.Dial("tcp", "192.0.2.2:7000") }, tc.swap))
		})
	}
}

// TestTCPNettestLoopback runs nettest.TestConn between two sockets of one
// stack over its loopback interface.
func TestTCPNettestLoopback(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := s.Listen("tcp", "127.0.0.1:7001")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nettest.TestConn(t, pipeMaker(ln, func() (net.Conn, error) { return s.Dial("tcp", "127.0.0.1:7001") }, false))
}
