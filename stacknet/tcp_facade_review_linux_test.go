package stacknet

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stacknet/stacknet/proto/tcp"
)

// More scenarios in the manner of tcp_facade_compat_linux_test.go, each
// run against package net on the kernel's loopback and against stacknet,
// for the corners a review of the facade found: every method in every
// state a connection reaches from the public API.

// tfWaitTimeWait waits until c is in TIME-WAIT: for the kernel, the
// socket itself is then CLOSE (the TIME-WAIT is a separate mini-socket).
func tfWaitTimeWait(t *testing.T, c net.Conn) {
	t.Helper()
	switch c := c.(type) {
	case *TCPConn:
		tfWaitFor(t, "TIME-WAIT", func() bool { return tfState(c) == tcp.TimeWait })
	case *net.TCPConn:
		tfWaitClosed(t, c)
	}
}

var tfReviewScenarios = []tfScenario{
	{"zero-length writes", func(t *testing.T, e *tfEnv) []string {
		c, s := e.conns(t)
		var out []string
		c.CloseWrite()
		n, err := c.Write(nil)
		out = append(out, tfStep("Write(nil) after CloseWrite", n, err))
		n, err = c.Write([]byte{})
		out = append(out, tfStep("Write([]byte{}) after CloseWrite", n, err))
		s.SetLinger(0)
		s.Close()
		tfWaitClosed(t, c)
		n, err = c.Write(nil)
		out = append(out, tfStep("Write(nil) after reset", n, err))
		// The zero-length write must not have taken the pending error.
		n, err = c.Read(make([]byte, 1))
		out = append(out, tfStep("Read after reset", n, err))
		c.SetWriteDeadline(time.Now().Add(-time.Second))
		n, err = c.Write(nil)
		out = append(out, tfStep("Write(nil) past deadline", n, err))
		return out
	}},
	{"keepalive options in order", func(t *testing.T, e *tfEnv) []string {
		c, _ := e.conns(t)
		var out []string
		out = append(out, tfStep("SetKeepAliveConfig(idle 2^32+5 s)", 0,
			c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: (1<<32 + 5) * time.Second})))
		out = append(out, tfStep("SetKeepAliveConfig(interval 0)", 0,
			c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: -1, Interval: 40000 * time.Second})))
		out = append(out, tfStep("SetKeepAliveConfig(count -1)", 0,
			c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: false, Idle: -1, Interval: -1, Count: -1})))
		c.Close()
		out = append(out, tfStep("SetKeepAlivePeriod(-1) after Close", 0, c.SetKeepAlivePeriod(-1)))
		out = append(out, tfStep("SetKeepAlivePeriod(40000s) after Close", 0, c.SetKeepAlivePeriod(40000*time.Second)))
		out = append(out, tfStep("SetKeepAliveConfig(idle 40000s) after Close", 0,
			c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 40000 * time.Second})))
		out = append(out, tfStep("SetKeepAliveConfig(all -1) after Close", 0,
			c.SetKeepAliveConfig(net.KeepAliveConfig{Idle: -1, Interval: -1, Count: -1})))
		out = append(out, tfStep("SetReadBuffer(-1) after Close", 0, c.SetReadBuffer(-1)))
		out = append(out, tfStep("SetLinger(5) after Close", 0, c.SetLinger(5)))
		return out
	}},
	{"TIME-WAIT", func(t *testing.T, e *tfEnv) []string {
		c, s := e.conns(t)
		var out []string
		out = append(out, tfStep("CloseWrite", 0, c.CloseWrite()))
		n, err := s.Read(make([]byte, 1))
		out = append(out, tfStep("server Read", n, err))
		out = append(out, tfStep("server Close", 0, s.Close()))
		n, err = c.Read(make([]byte, 1))
		out = append(out, tfStep("Read", n, err))
		tfWaitTimeWait(t, c)
		n, err = c.Read(make([]byte, 1))
		out = append(out, tfStep("Read in TIME-WAIT", n, err))
		n, err = c.Write([]byte("x"))
		out = append(out, tfStep("Write in TIME-WAIT", n, err))
		out = append(out, tfStep("CloseRead in TIME-WAIT", 0, c.CloseRead()))
		out = append(out, tfStep("CloseWrite in TIME-WAIT", 0, c.CloseWrite()))
		out = append(out, tfStep("SetKeepAlive in TIME-WAIT", 0, c.SetKeepAlive(true)))
		out = append(out, tfStep("SetLinger in TIME-WAIT", 0, c.SetLinger(1)))
		out = append(out, tfStep("Close in TIME-WAIT", 0, c.Close()))
		return out
	}},
	{"CLOSED after LAST-ACK", func(t *testing.T, e *tfEnv) []string {
		c, s := e.conns(t)
		var out []string
		out = append(out, tfStep("server Close", 0, s.Close()))
		n, err := c.Read(make([]byte, 1))
		out = append(out, tfStep("Read", n, err))
		out = append(out, tfStep("CloseWrite", 0, c.CloseWrite()))
		tfWaitClosed(t, c)
		out = append(out, tfStep("CloseWrite when CLOSED", 0, c.CloseWrite()))
		out = append(out, tfStep("CloseRead when CLOSED", 0, c.CloseRead()))
		n, err = c.Write([]byte("x"))
		out = append(out, tfStep("Write when CLOSED", n, err))
		n64, err := c.ReadFrom(strings.NewReader("abc"))
		out = append(out, tfStep("ReadFrom when CLOSED", int(n64), err))
		n64, err = c.WriteTo(io.Discard)
		out = append(out, tfStep("WriteTo when CLOSED", int(n64), err))
		return out
	}},
	{"reset, then copies", func(t *testing.T, e *tfEnv) []string {
		c, s := e.conns(t)
		s.SetLinger(0)
		s.Close()
		tfWaitClosed(t, c)
		var out []string
		n64, err := c.WriteTo(io.Discard)
		out = append(out, tfStep("WriteTo", int(n64), err))
		n64, err = c.ReadFrom(strings.NewReader("abc"))
		out = append(out, tfStep("ReadFrom", int(n64), err))
		n64, err = c.ReadFrom(strings.NewReader(""))
		out = append(out, tfStep("ReadFrom of nothing", int(n64), err))
		out = append(out, tfStep("SetKeepAliveConfig", 0, c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true})))
		out = append(out, tfStep("SetReadBuffer", 0, c.SetReadBuffer(1<<16)))
		out = append(out, tfStep("SetLinger", 0, c.SetLinger(3)))
		out = append(out, tfStep("Close", 0, c.Close()))
		return out
	}},
	{"deadline in the past consumes nothing", func(t *testing.T, e *tfEnv) []string {
		c, s := e.conns(t)
		var out []string
		n, err := s.Write([]byte("data"))
		out = append(out, tfStep("server Write", n, err))
		tfWaitReadable(t, c)
		c.SetReadDeadline(time.Now().Add(-time.Second))
		buf := make([]byte, 10)
		n, err = c.Read(buf)
		out = append(out, tfStep("Read past deadline", n, err))
		n64, err := c.WriteTo(io.Discard)
		out = append(out, tfStep("WriteTo past deadline", int(n64), err))
		c.SetReadDeadline(time.Time{})
		n, err = c.Read(buf)
		out = append(out, tfStep("Read "+string(buf[:n]), n, err))
		c.SetWriteDeadline(time.Now().Add(-time.Second))
		n64, err = c.ReadFrom(strings.NewReader("abc"))
		out = append(out, tfStep("ReadFrom past deadline", int(n64), err))
		return out
	}},
	{"Accept after Close with an Accept blocked", func(t *testing.T, e *tfEnv) []string {
		l := e.listen(t)
		errc := make(chan error, 1)
		go func() {
			_, err := l.Accept()
			errc <- err
		}()
		var out []string
		out = append(out, tfStep("Close", 0, l.Close()))
		out = append(out, tfStep("blocked Accept", 0, <-errc))
		_, err := l.Accept()
		out = append(out, tfStep("Accept after Close", 0, err))
		out = append(out, tfStep("Close again", 0, l.Close()))
		return out
	}},
	{"SetLinger(1) then Close", func(t *testing.T, e *tfEnv) []string {
		c, s := e.conns(t)
		var out []string
		out = append(out, tfStep("SetLinger(1)", 0, c.SetLinger(1)))
		n, err := c.Write(bytes.Repeat([]byte("x"), 1000))
		out = append(out, tfStep("Write", n, err))
		out = append(out, tfStep("Close", 0, c.Close()))
		got, err := io.ReadAll(s)
		out = append(out, tfStep(fmt.Sprint("server ReadAll ", len(got)), 0, err))
		return out
	}},
}

func TestTCPReviewMatchesNet(t *testing.T) { tfMatchNet(t, tfReviewScenarios) }
