package stacknet

import (
	"net"
	"testing"

	"golang.org/x/net/nettest"
)

// TestTCPNettestKernel runs nettest.TestConn between a stacknet TCPConn
// and the Linux kernel's TCP, over a TAP device whose kernel side is in a
// namespace the test creates: once with the stack dialing a kernel
// listener (the stack's end as c1), once with the kernel dialing a
// stacknet listener (the kernel's end as c1). Needs root.
func TestTCPNettestKernel(t *testing.T) {
	t.Run("stack-dials", func(t *testing.T) {
		s, _, k := kernelPeer(t)
		var ln net.Listener
		inKernel(t, k, func() (err error) {
			ln, err = net.Listen("tcp4", "192.0.2.1:7100")
			return err
		})
		defer ln.Close()
		nettest.TestConn(t, pipeMaker(ln, func() (net.Conn, error) { return s.Dial("tcp", "192.0.2.1:7100") }, false))
	})
	t.Run("kernel-dials", func(t *testing.T) {
		s, _, k := kernelPeer(t)
		ln, err := s.Listen("tcp", ":7101")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		nettest.TestConn(t, pipeMaker(ln, kernelDialer(k, "192.0.2.2:7101"), false))
	})
}
