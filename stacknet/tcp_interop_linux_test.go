package stacknet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/link/linktest"
	"github.com/stacknet/stacknet/proto/tcp"
)

// TCP interop with the Linux kernel over a TAP device: the kernel side is
// Go's net package on a thread inside a namespace the test creates (see
// interop_linux_test.go), so the peer is the kernel's real TCP. Each test
// runs with the stack as server and as client. They need root; under
// CI=true they must run.

// envInteropBytes sets the size of the bulk transfer with the kernel,
// each way (64 MiB unless set).
const envInteropBytes = "STACKNET_INTEROP_BYTES"

// kernelDialer returns a function that dials addr from inside the
// kernel's namespace.
func kernelDialer(k *linktest.Kernel, addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) {
		var c net.Conn
		err := k.Do(func() (err error) {
			c, err = net.DialTimeout("tcp4", addr, 10*time.Second)
			return err
		})
		return c, err
	}
}

// kernelListen listens on addr inside the kernel's namespace.
func kernelListen(t *testing.T, k *linktest.Kernel, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	inKernel(t, k, func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	})
	t.Cleanup(func() { ln.Close() })
	return ln
}

// kernelConn returns one connection between the stack and the kernel, as
// the stack's end and the kernel's, with the stack as the server (the
// kernel dials) or as the client. The listener is closed once the
// connection is accepted.
func kernelConn(t *testing.T, s *Stack, k *linktest.Kernel, stackServes bool, port int) (*TCPConn, *net.TCPConn) {
	t.Helper()
	var (
		ln   net.Listener
		dial func() (net.Conn, error)
		err  error
	)
	if stackServes {
		if ln, err = s.Listen("tcp", ":"+strconv.Itoa(port)); err != nil {
			t.Fatal(err)
		}
		dial = kernelDialer(k, stackAddr.Addr().String()+":"+strconv.Itoa(port))
	} else {
		ln = kernelListen(t, k, kernelAddr.Addr().String()+":"+strconv.Itoa(port))
		dial = func() (net.Conn, error) { return s.Dial("tcp", kernelAddr.Addr().String()+":"+strconv.Itoa(port)) }
	}
	dialed, accepted, err := dialAccept(ln, dial)
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dialed.Close()
		accepted.Close()
	})
	if stackServes {
		return accepted.(*TCPConn), dialed.(*net.TCPConn)
	}
	return dialed.(*TCPConn), accepted.(*net.TCPConn)
}

// roles are the two ways round of every interop test.
var roles = []struct {
	name        string
	stackServes bool
}{{"stack-server", true}, {"stack-client", false}}

// TestTCPKernelBulk moves 64 MiB (STACKNET_INTEROP_BYTES) each way at
// once between the stack and the kernel, checking each stream's SHA-256
// and length: over a plain TAP device, and over one with the offloads
// (virtio-net headers: TSO out, coalesced segments in, no checksums),
// where the device's counters must show both kinds of long segment.
func TestTCPKernelBulk(t *testing.T) {
	n := sizeFromEnv(t, envInteropBytes, 64<<20)
	for _, dev := range []struct {
		name string
		opts []link.TAPOption
	}{{"plain", nil}, {"offload", []link.TAPOption{link.WithOffloads()}}} {
		for _, r := range roles {
			t.Run(dev.name+"/"+r.name, func(t *testing.T) {
				s, _, k := kernelPeer(t, dev.opts...)
				sc, kc := kernelConn(t, s, k, r.stackServes, 8000)
				deadline := transferDeadline(t, n)
				sc.SetDeadline(deadline)
				kc.SetDeadline(deadline)
				start := time.Now()
				transferBoth(t, sc, kc, n)
				el := time.Since(start)
				st := k.Dev.Stats()
				t.Logf("%d bytes each way in %v (%.0f MB/s each way); device: %+v", n, el.Round(time.Millisecond), float64(n)/el.Seconds()/1e6, st)
				if dev.opts == nil {
					return
				}
				if k.Dev.Offloads() != link.OffloadChecksum|link.OffloadTSO|link.OffloadGRO {
					t.Fatalf("the TAP device offers %v, want every offload", k.Dev.Offloads())
				}
				if st.TxGSOFrames == 0 || st.RxGSOFrames == 0 {
					t.Errorf("%d segments went out for the kernel to cut and %d coalesced ones came in; want both", st.TxGSOFrames, st.RxGSOFrames)
				}
				if st.RxChecksumErrors != 0 || st.RxBadHeaders != 0 || st.RxTooLong != 0 {
					t.Errorf("the device dropped frames: %+v", st)
				}
			})
		}
	}
}

// TestTCPKernelHalfClose: one side sends and shuts down its sending side
// (CloseWrite); the other reads to EOF and still answers over its own
// half, which the first reads to EOF. Each of stack and kernel closes
// first, in each role.
func TestTCPKernelHalfClose(t *testing.T) {
	for _, r := range roles {
		for _, stackFirst := range []bool{true, false} {
			name := r.name + "/kernel-closes-first"
			if stackFirst {
				name = r.name + "/stack-closes-first"
			}
			t.Run(name, func(t *testing.T) {
				s, _, k := kernelPeer(t)
				sc, kc := kernelConn(t, s, k, r.stackServes, 8001)
				var first, second halfCloser = kc, sc
				if stackFirst {
					first, second = sc, kc
				}
				deadline := time.Now().Add(30 * time.Second)
				sc.SetDeadline(deadline)
				kc.SetDeadline(deadline)
				question, answer := bytes.Repeat([]byte("question "), 1000), bytes.Repeat([]byte("answer "), 3000)

				if _, err := first.Write(question); err != nil {
					t.Fatalf("first Write: %v", err)
				}
				if err := first.CloseWrite(); err != nil {
					t.Fatalf("CloseWrite: %v", err)
				}
				// Writing after CloseWrite is EPIPE, as for a
				// *net.TCPConn.
				if _, err := first.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
					t.Errorf("Write after CloseWrite: %v, want EPIPE", err)
				}
				got, err := io.ReadAll(second)
				if err != nil || !bytes.Equal(got, question) {
					t.Fatalf("second side read %d bytes (want %d), err %v", len(got), len(question), err)
				}
				// EOF again, every time.
				if n, err := second.Read(make([]byte, 10)); n != 0 || err != io.EOF {
					t.Errorf("Read after EOF: %d, %v; want 0, io.EOF", n, err)
				}
				if _, err := second.Write(answer); err != nil {
					t.Fatalf("Write after receiving the peer's FIN: %v", err)
				}
				if err := second.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				got, err = io.ReadAll(first)
				if err != nil || !bytes.Equal(got, answer) {
					t.Fatalf("first side read %d bytes back (want %d), err %v", len(got), len(answer), err)
				}
			})
		}
	}
}

// TestTCPKernelReset: an abortive close on one side (SetLinger(0) then
// Close, or Close with data unread) sends a RST; the other side's Read
// fails with ECONNRESET and a later Write with EPIPE. Each way.
func TestTCPKernelReset(t *testing.T) {
	for _, tc := range []struct {
		name        string
		stackAborts bool // else the kernel aborts
		unread      bool // abort by closing with unread data, else SetLinger(0)
	}{
		{"stack-linger0", true, false},
		{"stack-unread", true, true},
		{"kernel-linger0", false, false},
		{"kernel-unread", false, true},
	} {
		for _, r := range roles {
			t.Run(tc.name+"/"+r.name, func(t *testing.T) {
				s, _, k := kernelPeer(t)
				sc, kc := kernelConn(t, s, k, r.stackServes, 8002)
				deadline := time.Now().Add(30 * time.Second)
				sc.SetDeadline(deadline)
				kc.SetDeadline(deadline)
				var aborter, victim net.Conn = kc, sc
				if tc.stackAborts {
					aborter, victim = sc, kc
				}
				if tc.unread {
					// One small write arrives as one segment; reading
					// one byte of it leaves the rest unread.
					if _, err := victim.Write([]byte("0123456789")); err != nil {
						t.Fatal(err)
					}
					if _, err := io.ReadFull(aborter, make([]byte, 1)); err != nil {
						t.Fatal(err)
					}
				} else {
					var err error
					if tc.stackAborts {
						err = sc.SetLinger(0)
					} else {
						err = kc.SetLinger(0)
					}
					if err != nil {
						t.Fatalf("SetLinger(0): %v", err)
					}
				}
				// The victim is in Read, most likely blocked, when the RST
				// arrives; either way the Read reports the reset.
				readErr := make(chan error, 1)
				go func() {
					_, err := victim.Read(make([]byte, 100))
					readErr <- err
				}()
				if err := aborter.Close(); err != nil {
					t.Fatalf("abortive Close: %v", err)
				}
				err := <-readErr
				checkOpErr(t, "Read after the peer's RST", err, "read", syscall.ECONNRESET)
				_, err = victim.Write([]byte("after the reset"))
				checkOpErr(t, "Write after the reset was reported", err, "write", syscall.EPIPE)
			})
		}
	}
}

// checkOpErr checks that err is a *net.OpError for op wrapping errno, as
// package net returns on Linux.
func checkOpErr(t *testing.T, what string, err error, op string, errno syscall.Errno) {
	t.Helper()
	var oe *net.OpError
	switch {
	case !errors.Is(err, errno):
		t.Errorf("%s: %v (%T), want %v", what, err, err, errno)
	case !errors.As(err, &oe) || oe.Op != op:
		t.Errorf("%s: %#v, want a *net.OpError with Op %q", what, err, op)
	}
	var se *os.SyscallError
	if err != nil && !errors.As(err, &se) {
		t.Errorf("%s: %v does not wrap an *os.SyscallError", what, err)
	}
}

// TestTCPKernelConcurrent opens 1,000 connections between the stack and
// the kernel, holds them all open at once, has each echo a message of its
// own, then closes them: once with the kernel dialing, once with the
// stack dialing.
func TestTCPKernelConcurrent(t *testing.T) {
	const (
		conns   = 1000
		dialers = 16 // connections set up at a time
	)
	for _, r := range roles {
		t.Run(r.name, func(t *testing.T) {
			s, _, k := kernelPeer(t)
			var (
				ln   net.Listener
				addr string
				err  error
			)
			if r.stackServes {
				if ln, err = s.Listen("tcp", ":8003"); err != nil {
					t.Fatal(err)
				}
				addr = "192.0.2.2:8003"
			} else {
				ln = kernelListen(t, k, "192.0.2.1:8003")
				addr = "192.0.2.1:8003"
			}

			// The server echoes every connection until EOF.
			var served sync.WaitGroup
			served.Go(func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					served.Go(func() {
						defer c.Close()
						c.SetDeadline(time.Now().Add(time.Minute))
						if _, err := io.Copy(c, c); err != nil {
							t.Errorf("server %v: echo: %v", c.RemoteAddr(), err)
						}
					})
				}
			})
			clients := make([]net.Conn, conns)
			defer func() {
				ln.Close()
				for _, c := range clients {
					if c != nil {
						c.Close()
					}
				}
				served.Wait()
			}()

			// Phase 1: open every connection. When the stack serves, each
			// dialer makes one trip into the namespace and dials its share
			// from there: sockets made there stay in the namespace.
			var wg sync.WaitGroup
			var mu sync.Mutex
			var dialErrs []error
			for d := range dialers {
				wg.Go(func() {
					open := func() error {
						for i := d; i < conns; i += dialers {
							var c net.Conn
							var err error
							if r.stackServes {
								c, err = net.DialTimeout("tcp4", addr, 30*time.Second)
							} else {
								c, err = s.Dial("tcp", addr)
							}
							if err != nil {
								return fmt.Errorf("connection %d: %w", i, err)
							}
							clients[i] = c
						}
						return nil
					}
					var err error
					if r.stackServes {
						err = k.Do(open)
					} else {
						err = open()
					}
					if err != nil {
						mu.Lock()
						dialErrs = append(dialErrs, err)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(dialErrs) > 0 {
				t.Fatalf("%d dialers failed, the first: %v", len(dialErrs), dialErrs[0])
			}

			// Phase 2: all 1,000, open at once, each echo a message of
			// their own.
			for i, c := range clients {
				wg.Go(func() {
					msg := bytes.Repeat([]byte(fmt.Sprintf("connection %d of %d; ", i, conns)), 40)
					c.SetDeadline(time.Now().Add(time.Minute))
					if _, err := c.Write(msg); err != nil {
						t.Errorf("connection %d: write: %v", i, err)
						return
					}
					if err := c.(halfCloser).CloseWrite(); err != nil {
						t.Errorf("connection %d: CloseWrite: %v", i, err)
						return
					}
					got, err := io.ReadAll(c)
					if err != nil || !bytes.Equal(got, msg) {
						t.Errorf("connection %d: echo of %d bytes came back as %d, err %v", i, len(msg), len(got), err)
					}
				})
			}
			wg.Wait()
		})
	}
}

// tcpInfo is the part of Linux's struct tcp_info (linux/tcp.h) that the
// options test reads. x/sys's unix.TCPInfo leaves out the byte with the
// window scales, so it is read raw.
type tcpInfo struct {
	State              uint8
	Options            uint8 // TCPI_OPT_* bits
	SndWscale          uint8 // the peer's shift: what it announced
	RcvWscale          uint8 // ours
	SndMSS, RcvMSS     uint32
	AdvMSS             uint32
	TotalRetrans       uint32
	SegsOut, SegsIn    uint32
	BytesAcked, BytesR uint64
}

// The state ESTABLISHED and the tcpi_options bits (linux/tcp.h).
const (
	tcpEstablished    = 1
	tcpiOptTimestamps = 1
	tcpiOptSACK       = 2
	tcpiOptWscale     = 4
)

// readTCPInfo reads TCP_INFO from a kernel socket.
func readTCPInfo(c *net.TCPConn) (tcpInfo, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return tcpInfo{}, err
	}
	var buf [256]byte
	size := uint32(len(buf))
	var errno syscall.Errno
	err = rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.IPPROTO_TCP, unix.TCP_INFO,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0)
	})
	if err != nil {
		return tcpInfo{}, err
	}
	if errno != 0 {
		return tcpInfo{}, os.NewSyscallError("getsockopt", errno)
	}
	if size < 160 {
		return tcpInfo{}, fmt.Errorf("TCP_INFO returned only %d bytes", size)
	}
	ne := binary.NativeEndian
	// snd_wscale and rcv_wscale are 4-bit fields sharing byte 6; C puts
	// the first in the low bits on little-endian machines.
	snd, rcv := buf[6]&0xf, buf[6]>>4
	if ne.Uint16([]byte{0, 1}) == 1 { // big-endian
		snd, rcv = buf[6]>>4, buf[6]&0xf
	}
	return tcpInfo{
		State:        buf[0],
		Options:      buf[5],
		SndWscale:    snd,
		RcvWscale:    rcv,
		SndMSS:       ne.Uint32(buf[16:]),
		RcvMSS:       ne.Uint32(buf[20:]),
		AdvMSS:       ne.Uint32(buf[84:]),
		TotalRetrans: ne.Uint32(buf[100:]),
		BytesAcked:   ne.Uint64(buf[120:]),
		BytesR:       ne.Uint64(buf[128:]),
		SegsOut:      ne.Uint32(buf[136:]),
		SegsIn:       ne.Uint32(buf[140:]),
	}, nil
}

// TestTCPKernelOptions reads the kernel's own view of a connection with
// the stack (TCP_INFO, what `ss -ti` shows): window scaling, SACK and
// timestamps are negotiated, the stack announced the MSS its 1500-byte
// MTU allows (1460, so 1448 bytes of data beside the timestamps), and the
// stack's data segments are that size.
func TestTCPKernelOptions(t *testing.T) {
	for _, r := range roles {
		t.Run(r.name, func(t *testing.T) {
			s, _, k := kernelPeer(t)
			sc, kc := kernelConn(t, s, k, r.stackServes, 8004)
			deadline := time.Now().Add(30 * time.Second)
			sc.SetDeadline(deadline)
			kc.SetDeadline(deadline)
			// A little data from the stack, so that the kernel sees the
			// size of its full segments.
			const n = 256 << 10
			go func() {
				sc.Write(make([]byte, n))
			}()
			if _, err := io.ReadFull(kc, make([]byte, n)); err != nil {
				t.Fatal(err)
			}
			info, err := readTCPInfo(kc)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("kernel's tcp_info: %+v", info)
			if info.State != tcpEstablished {
				t.Errorf("kernel state %d, want ESTABLISHED", info.State)
			}
			for _, o := range []struct {
				bit  uint8
				name string
			}{{tcpiOptTimestamps, "timestamps"}, {tcpiOptSACK, "SACK"}, {tcpiOptWscale, "window scaling"}} {
				if info.Options&o.bit == 0 {
					t.Errorf("the kernel did not negotiate %s with the stack (tcpi_options %#x)", o.name, info.Options)
				}
			}
			// The stack offers the shift for its largest receive buffer,
			// 6 MiB by default: 7, as Linux offers for the same.
			if want := tcp.WScaleFor(6 << 20); info.SndWscale != want {
				t.Errorf("the kernel saw window scale %d from the stack, want %d", info.SndWscale, want)
			}
			if info.SndMSS != 1448 {
				t.Errorf("kernel's send MSS %d, want 1448 (the stack's MSS 1460 less 12 bytes of timestamps)", info.SndMSS)
			}
			if info.RcvMSS != 1448 {
				t.Errorf("kernel's estimate of the stack's segment size %d, want 1448: the stack does not fill its segments", info.RcvMSS)
			}
		})
	}
}
