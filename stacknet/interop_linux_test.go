package stacknet

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/link/linktest"
)

// The interop tests put the kernel side of a TAP device in a network
// namespace the test creates, and talk through it to the Linux kernel's
// own stack: Go's net package, on a thread inside the namespace, is the
// independent peer. They need root; under CI=true they must run.

var (
	kernelAddr = netip.MustParsePrefix("192.0.2.1/24")
	stackAddr  = netip.MustParsePrefix("192.0.2.2/24")
)

// kernelPeer brings up a stack on a TAP device whose other side is the
// kernel in a fresh namespace; opts open the device (link.WithOffloads).
func kernelPeer(t *testing.T, opts ...link.TAPOption) (*Stack, *Interface, *linktest.Kernel) {
	t.Helper()
	k := linktest.NewKernelTAP(t, kernelAddr, 1500, opts...)
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ifc, err := s.AddInterface(k.Dev, stackAddr)
	if err != nil {
		t.Fatal(err)
	}
	return s, ifc, k
}

// inKernel runs f inside the namespace and fails the test on error.
func inKernel(t *testing.T, k *linktest.Kernel, f func() error) {
	t.Helper()
	if err := k.Do(f); err != nil {
		t.Fatal(err)
	}
}

func TestKernelPingsStack(t *testing.T) {
	_, ifc, k := kernelPeer(t)
	var conn *icmp.PacketConn
	inKernel(t, k, func() (err error) {
		conn, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	})
	defer conn.Close()
	dst := &net.IPAddr{IP: stackAddr.Addr().AsSlice()}
	for seq := 1; seq <= 3; seq++ {
		data := []byte(fmt.Sprintf("stacknet interop ping %d", seq))
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 0x1234, Seq: seq, Data: data}}
		wb, err := msg.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteTo(wb, dst); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			rb := make([]byte, 1500)
			n, from, err := conn.ReadFrom(rb)
			if err != nil {
				t.Fatalf("kernel waiting for echo reply %d: %v", seq, err)
			}
			m, err := icmp.ParseMessage(1, rb[:n])
			if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
				continue // our own request seen by the raw socket, or noise
			}
			e := m.Body.(*icmp.Echo)
			if e.Seq != seq || !bytes.Equal(e.Data, data) || from.String() != stackAddr.Addr().String() {
				t.Fatalf("reply %d: from %v seq %d data %q", seq, from, e.Seq, e.Data)
			}
			break
		}
	}
	// The kernel's neighbour table now holds the stack's MAC.
	neigh, err := k.Neighbours()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range neigh {
		if n.IP.Equal(stackAddr.Addr().AsSlice()) {
			found = true
			if n.HardwareAddr.String() != ifc.HardwareAddr().String() {
				t.Errorf("kernel has %v for the stack, the stack's MAC is %v", n.HardwareAddr, ifc.HardwareAddr())
			}
		}
	}
	if !found {
		t.Errorf("the stack is not in the kernel's neighbour table: %v", neigh)
	}
}

func TestStackPingsKernel(t *testing.T) {
	s, _, _ := kernelPeer(t)
	for i := 0; i < 3; i++ {
		rtt, err := s.Ping(ctxTimeout(t, 5*time.Second), kernelAddr.Addr())
		if err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		if rtt <= 0 {
			t.Errorf("rtt %v", rtt)
		}
	}
}

// udpEchoKernel starts a UDP echo server inside the namespace.
func udpEchoKernel(t *testing.T, k *linktest.Kernel) *net.UDPConn {
	t.Helper()
	var pc *net.UDPConn
	inKernel(t, k, func() (err error) {
		pc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: kernelAddr.Addr().AsSlice(), Port: 9007})
		return err
	})
	t.Cleanup(func() { pc.Close() })
	go echoServer(pc)
	return pc
}

// TestUDPStackToKernel: the stack is the client, the kernel echoes, for
// small datagrams and for 60 KB ones that each side fragments and the
// other reassembles.
func TestUDPStackToKernel(t *testing.T) {
	s, _, k := kernelPeer(t)
	udpEchoKernel(t, k)
	c, err := s.Dial("udp", "192.0.2.1:9007")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	for _, size := range []int{1, 1472, 1473, 60000, 65507} {
		msg := bytes.Repeat([]byte{byte(size), 'k'}, size/2+1)[:size]
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("write %d: %v", size, err)
		}
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read echo of %d bytes: %v", size, err)
		}
		if !bytes.Equal(buf[:n], msg) {
			t.Fatalf("echo of %d bytes came back as %d different bytes", size, n)
		}
	}
	st := s.Stats()
	if st.IP.FragOKs == 0 || st.IP.ReasmOKs == 0 {
		t.Errorf("expected the stack to fragment and reassemble: %+v", st.IP)
	}
}

// TestUDPKernelToStack: the kernel is the client of an echo server on
// the stack.
func TestUDPKernelToStack(t *testing.T) {
	s, _, k := kernelPeer(t)
	srv, err := s.ListenPacket("udp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go echoServer(srv)
	var c net.Conn
	inKernel(t, k, func() (err error) {
		c, err = net.Dial("udp4", "192.0.2.2:7")
		return err
	})
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	for _, size := range []int{0, 100, 60000} {
		msg := bytes.Repeat([]byte{'s', byte(size)}, size/2+1)[:size]
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("kernel reading echo of %d bytes: %v", size, err)
		}
		if !bytes.Equal(buf[:n], msg) {
			t.Fatalf("echo of %d bytes came back as %d different bytes", size, n)
		}
	}
	// A closed port on the stack: the kernel gets ECONNREFUSED, so the
	// stack's port unreachable was well formed.
	var c2 net.Conn
	inKernel(t, k, func() (err error) {
		c2, err = net.Dial("udp4", "192.0.2.2:9")
		return err
	})
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(5 * time.Second))
	c2.Write([]byte("anyone?"))
	if _, err := c2.Read(buf); err == nil || !isConnRefused(err) {
		t.Errorf("kernel reading from a closed port on the stack: %v, want connection refused", err)
	}
}

func isConnRefused(err error) bool {
	var se *os.SyscallError
	if opErr, ok := err.(*net.OpError); ok {
		if e, ok := opErr.Err.(*os.SyscallError); ok {
			se = e
		}
	}
	return se != nil && se.Err.Error() == "connection refused"
}
