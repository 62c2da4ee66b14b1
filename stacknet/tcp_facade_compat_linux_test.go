package stacknet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/stacknet/stacknet/proto/tcp"
)

// Every scenario below runs twice: with package net on the kernel's
// loopback and with stacknet on two stacks joined by a Pipe. The errors
// each step returns must have the same shape: the same types, Op, Net,
// address types and IP lengths, system call names, errno and sentinels,
// Timeout() and errors.Is results. Only the address values differ.

// tfTCPConn is what *net.TCPConn and *TCPConn have in common: the
// methods the facade promises.
type tfTCPConn interface {
	net.Conn
	CloseRead() error
	CloseWrite() error
	SetNoDelay(bool) error
	SetKeepAlive(bool) error
	SetKeepAlivePeriod(time.Duration) error
	SetKeepAliveConfig(net.KeepAliveConfig) error
	SetLinger(int) error
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
	ReadFrom(io.Reader) (int64, error)
	WriteTo(io.Writer) (int64, error)
	MultipathTCP() (bool, error)
}

var (
	_ tfTCPConn = (*net.TCPConn)(nil)
	_ tfTCPConn = (*TCPConn)(nil)
)

type tfDeadliner interface {
	net.Listener
	SetDeadline(time.Time) error
}

var (
	_ tfDeadliner = (*net.TCPListener)(nil)
	_ tfDeadliner = (*TCPListener)(nil)
)

// tfEnv is where a scenario runs.
type tfEnv struct {
	listenAt func(addr string) (net.Listener, error)
	host     string // the address a listener takes, with port 0
	dial     func(ctx context.Context, addr string) (net.Conn, error)
}

func (e *tfEnv) listen(t *testing.T) tfDeadliner {
	t.Helper()
	l, err := e.listenAt(e.host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.(tfDeadliner)
}

// conns returns a connected client and server.
func (e *tfEnv) conns(t *testing.T) (c, s tfTCPConn) {
	t.Helper()
	l := e.listen(t)
	cc, err := e.dial(ctxTimeout(t, 10*time.Second), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close(); sc.Close() })
	return cc.(tfTCPConn), sc.(tfTCPConn)
}

// closedPort is an address nothing listens on.
func (e *tfEnv) closedPort(t *testing.T) string {
	l := e.listen(t)
	addr := l.Addr().String()
	l.Close()
	return addr
}

// tfWaitClosed waits until the connection reaches CLOSED, as after a
// reset: the kernel's TCP_INFO state, or the machine's.
func tfWaitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	switch c := c.(type) {
	case *TCPConn:
		tfWaitFor(t, "CLOSED", func() bool { return tfState(c) == tcp.Closed })
	case *net.TCPConn:
		rc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		tfWaitFor(t, "CLOSED", func() bool {
			var state uint8
			rc.Control(func(fd uintptr) {
				if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
					state = info.State
				}
			})
			return state == 7 // TCP_CLOSE
		})
	}
}

// tfWaitReadable waits until data is queued for c.
func tfWaitReadable(t *testing.T, c net.Conn) {
	t.Helper()
	switch c := c.(type) {
	case *TCPConn:
		tfWaitFor(t, "data", func() bool { return c.Info().Readable > 0 })
	case *net.TCPConn:
		rc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		tfWaitFor(t, "data", func() bool {
			n := 0
			rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
			return n > 0
		})
	}
}

func tfShape(err error) string {
	if err == nil {
		return "nil"
	}
	switch e := err.(type) {
	case *net.OpError:
		return fmt.Sprintf("OpError{Op:%s Net:%s Source:%s Addr:%s Timeout:%v Err:%s}",
			e.Op, e.Net, tfAddrShape(e.Source), tfAddrShape(e.Addr), e.Timeout(), tfShape(e.Err))
	case *os.SyscallError:
		return fmt.Sprintf("SyscallError{%s %s}", e.Syscall, tfShape(e.Err))
	case syscall.Errno:
		return fmt.Sprintf("Errno(%d %v)", int(e), e)
	case *net.AddrError:
		return fmt.Sprintf("AddrError{%s}", e.Err)
	}
	switch err {
	case io.EOF:
		return "io.EOF"
	case net.ErrClosed:
		return "net.ErrClosed"
	case os.ErrDeadlineExceeded:
		return "os.ErrDeadlineExceeded"
	}
	var te interface{ Timeout() bool }
	timeout := errors.As(err, &te) && te.Timeout()
	return fmt.Sprintf("%q{timeout:%v canceled:%v deadline:%v}", err.Error(), timeout,
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded))
}

func tfAddrShape(a net.Addr) string {
	switch a := a.(type) {
	case nil:
		return "nil"
	case *net.TCPAddr:
		if a == nil {
			return "(*net.TCPAddr)(nil)"
		}
		return fmt.Sprintf("*net.TCPAddr(%d-byte IP)", len(a.IP))
	}
	return fmt.Sprintf("%T", a)
}

// tfStep records one call's error under a name, with its count when it
// returns one.
func tfStep(name string, n int, err error) string {
	return fmt.Sprintf("%s: n=%d %s", name, n, tfShape(err))
}

// tfScenario is one scenario: run does its steps in e and returns what
// each gave, as tfStep describes it.
type tfScenario struct {
	name string
	run  func(t *testing.T, e *tfEnv) []string
}

var tfScenarios = []tfScenario{
	{"use after own Close", func(t *testing.T, e *tfEnv) []string {
		c, _ := e.conns(t)
		c.Close()
		buf := make([]byte, 10)
		var out []string
		n, err := c.Read(buf)
		out = append(out, tfStep("Read", n, err))
		n, err = c.Read(nil)
		out = append(out, tfStep("Read(nil)", n, err))
		n, err = c.Write(buf)
		out = append(out, tfStep("Write", n, err))
		out = append(out, tfStep("Close", 0, c.Close()))
		out = append(out, tfStep("CloseRead", 0, c.CloseRead()))
		out = append(out, tfStep("CloseWrite", 0, c.CloseWrite()))
		out = append(out, tfStep("SetDeadline", 0, c.SetDeadline(time.Now())))
		out = append(out, tfStep("SetReadDeadline", 0, c.SetReadDeadline(time.Now())))
		out = append(out, tfStep("SetWriteDeadline", 0, c.SetWriteDeadline(time.Now())))
		out = append(out, tfStep("SetNoDelay", 0, c.SetNoDelay(false)))
		out = append(out, tfStep("SetKeepAlive", 0, c.SetKeepAlive(false)))
		out = append(out, tfStep("SetKeepAlivePeriod", 0, c.SetKeepAlivePeriod(time.Minute)))
		out = append(out, tfStep("SetKeepAliveConfig", 0, c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true})))
		out = append(out, tfStep("SetLinger", 0, c.SetLinger(0)))
		out = append(out, tfStep("SetReadBuffer", 0, c.SetReadBuffer(4096)))
		out = append(out, tfStep("SetWriteBuffer", 0, c.SetWriteBuffer(4096)))
		n64, err := c.ReadFrom(strings.NewReader("data"))
		out = append(out, tfStep("ReadFrom", int(n64), err))
		n64, err = c.WriteTo(io.Discard)
		out = append(out, tfStep("WriteTo", int(n64), err))
		return out
	}},
	{"open connection", func(t *testing.T, e *tfEnv) []string {
		c, s := e.conns(t)
		var out []string
		n, err := c.Read(nil)
		out = append(out, tfStep("Read(nil)", n, err))
		n, err = c.Write(nil)
		out = append(out, tfStep("Write(nil)", n, err))
		out = append(out, tfStep("SetNoDelay", 0, c.SetNoDelay(false)))
		out = append(out, tfStep("SetKeepAlivePeriod(-1)", 0, c.SetKeepAlivePeriod(-1)))
		out = append(out, tfStep("SetKeepAlivePeriod(40000s)", 0, c.SetKeepAlivePeriod(40000*time.Second)))
		out = append(out, tfStep("SetKeepAliveConfig(count 200)", 0, c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Count: 200})))
		mp, err := c.MultipathTCP()
		out = append(out, tfStep(fmt.Sprint("MultipathTCP ", mp), 0, err))
		n64, err := c.ReadFrom(strings.NewReader("hello"))
		out = append(out, tfStep("ReadFrom", int(n64), err))
		buf := make([]byte, 5)
		n, err = io.ReadFull(s, buf)
		out = append(out, tfStep("server ReadFull "+string(buf), n, err))
		out = append(out, tfStep("server Close", 0, s.Close()))
		n64, err = c.WriteTo(io.Discard)
		out = append(out, tfStep("WriteTo until EOF", int(n64), err))
		return out
	}},
	{"deadlines", func(t *testing.T, e *tfEnv) []string {
		c, _ := e.conns(t)
		var out []string
		c.SetDeadline(time.Now().Add(-time.Second))
		n, err := c.Read(make([]byte, 1))
		out = append(out, tfStep("Read", n, err))
		n, err = c.Read(nil)
		out = append(out, tfStep("Read(nil)", n, err))
		n, err = c.Write([]byte("x"))
		out = append(out, tfStep("Write", n, err))
		c.SetDeadline(time.Time{})
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		n, err = c.Read(make([]byte, 1))
		out = append(out, tfStep("Read, deadline passing", n, err))
		return out
	}},
	{"half close", func(t *testing.T, e *tfEnv) []string {
		c, s := e.conns(t)
		var out []string
		out = append(out, tfStep("CloseWrite", 0, c.CloseWrite()))
		n, err := c.Write([]byte("x"))
		out = append(out, tfStep("Write after CloseWrite", n, err))
		out = append(out, tfStep("CloseWrite again", 0, c.CloseWrite()))
		for i := range 2 {
			n, err = s.Read(make([]byte, 1))
			out = append(out, tfStep(fmt.Sprint("server Read ", i), n, err))
		}
		out = append(out, tfStep("CloseRead", 0, c.CloseRead()))
		n, err = c.Read(make([]byte, 1))
		out = append(out, tfStep("Read after CloseRead", n, err))
		return out
	}},
	{"reset, read first", func(t *testing.T, e *tfEnv) []string {
		c, s := e.conns(t)
		s.SetLinger(0)
		s.Close()
		tfWaitClosed(t, c)
		var out []string
		for i := range 2 {
			n, err := c.Read(make([]byte, 1))
			out = append(out, tfStep(fmt.Sprint("Read ", i), n, err))
		}
		n, err := c.Write([]byte("x"))
		out = append(out, tfStep("Write", n, err))
		out = append(out, tfStep("CloseWrite", 0, c.CloseWrite()))
		out = append(out, tfStep("CloseRead", 0, c.CloseRead()))
		out = append(out, tfStep("SetNoDelay", 0, c.SetNoDelay(true)))
		out = append(out, tfStep("Close", 0, c.Close()))
		return out
	}},
	{"reset, write first", func(t *testing.T, e *tfEnv) []string {
		c, s := e.conns(t)
		s.SetLinger(0)
		s.Close()
		tfWaitClosed(t, c)
		var out []string
		for i := range 2 {
			n, err := c.Write([]byte("x"))
			out = append(out, tfStep(fmt.Sprint("Write ", i), n, err))
		}
		n, err := c.Read(make([]byte, 1))
		out = append(out, tfStep("Read", n, err))
		return out
	}},
	{"close with unread data resets", func(t *testing.T, e *tfEnv) []string {
		c, s := e.conns(t)
		var out []string
		n, err := s.Write([]byte("unread"))
		out = append(out, tfStep("server Write", n, err))
		tfWaitReadable(t, c)
		out = append(out, tfStep("Close", 0, c.Close()))
		s.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err = s.Read(make([]byte, 1))
		out = append(out, tfStep("server Read", n, err))
		return out
	}},
	{"dial", func(t *testing.T, e *tfEnv) []string {
		var out []string
		_, err := e.dial(context.Background(), e.closedPort(t))
		out = append(out, tfStep("refused", 0, err))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = e.dial(ctx, e.closedPort(t))
		out = append(out, tfStep("cancelled", 0, err))
		ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, err = e.dial(ctx, e.closedPort(t))
		out = append(out, tfStep("past deadline", 0, err))
		_, err = e.dial(context.Background(), "")
		out = append(out, tfStep("missing address", 0, err))
		return out
	}},
	{"listener", func(t *testing.T, e *tfEnv) []string {
		var out []string
		l := e.listen(t)
		_, err := e.listenAt(l.Addr().String())
		out = append(out, tfStep("Listen on a port in use", 0, err))
		l.SetDeadline(time.Now().Add(-time.Second))
		_, err = l.Accept()
		out = append(out, tfStep("Accept past deadline", 0, err))
		l.SetDeadline(time.Now().Add(20 * time.Millisecond))
		_, err = l.Accept()
		out = append(out, tfStep("Accept, deadline passing", 0, err))
		out = append(out, tfStep("Close", 0, l.Close()))
		_, err = l.Accept()
		out = append(out, tfStep("Accept after Close", 0, err))
		out = append(out, tfStep("Close again", 0, l.Close()))
		out = append(out, tfStep("SetDeadline after Close", 0, l.SetDeadline(time.Now())))
		out = append(out, tfStep("Addr "+tfAddrShape(l.Addr()), 0, nil))
		return out
	}},
}

func TestTCPFacadeMatchesNet(t *testing.T) { tfMatchNet(t, tfScenarios) }

// tfMatchNet runs each scenario with package net on the kernel's loopback
// and with stacknet on two stacks joined by a Pipe, and fails the
// scenario if their steps differ.
func tfMatchNet(t *testing.T, scenarios []tfScenario) {
	kernel := &tfEnv{
		host:     "127.0.0.1:0",
		listenAt: func(addr string) (net.Listener, error) { return net.Listen("tcp", addr) },
		dial: func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var want []string
			t.Run("kernel", func(t *testing.T) { want = sc.run(t, kernel) })
			a, b := pair(t, Config{})
			stack := &tfEnv{
				host:     "192.0.2.2:0",
				listenAt: func(addr string) (net.Listener, error) { return b.Listen("tcp", addr) },
				dial: func(ctx context.Context, addr string) (net.Conn, error) {
					return a.DialContext(ctx, "tcp", addr)
				},
			}
			var got []string
			t.Run("stacknet", func(t *testing.T) { got = sc.run(t, stack) })
			if testing.Verbose() {
				t.Logf("net:\n%s", strings.Join(want, "\n"))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stacknet differs from package net (-net +stacknet):\n%s", diff)
			}
		})
	}
}
