package compat_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Tests of the harness itself.

// TestHarnessKernelAgainstItself runs every scenario twice in the kernel
// world: the outcomes must be equal, or the normalisation lets something
// through that varies from run to run (a port, an address, a count), and
// a difference against stacknet would mean nothing.
func TestHarnessKernelAgainstItself(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			kernelTwice(t, func(t *testing.T, e *kernelEnv) { sc.run(t, e) })
		})
	}
}

// kernelTwice runs a scenario twice in the kernel world, in parallel with
// the others, and fails if the two outcomes differ or are empty.
func kernelTwice(t *testing.T, run func(*testing.T, *kernelEnv)) {
	t.Parallel()
	var outs [2][]entry
	for i := range outs {
		t.Run("net", func(t *testing.T) {
			e := &kernelEnv{t: t}
			run(t, e)
			outs[i] = e.outcome()
		})
	}
	if t.Failed() {
		return
	}
	if len(outs[0]) == 0 {
		t.Fatal("the scenario recorded nothing")
	}
	if diff := cmp.Diff(outs[0], outs[1]); diff != "" {
		t.Errorf("two runs in the kernel world differ (-first +second):\n%s", diff)
	}
}

func TestNormalise(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"read udp 127.0.0.1:4242->127.0.0.1:9: read: connection refused", "read udp IP:PORT->IP:PORT: read: connection refused"},
		{"listen udp 0.0.0.0:53: bind: address already in use", "listen udp 0.0.0.0:PORT: bind: address already in use"},
		{"listen udp :4000: bind: address already in use", "listen udp :PORT: bind: address already in use"},
		{"write udp 192.0.2.1:40000->192.0.2.2:0: sendto: invalid argument", "write udp IP:PORT->IP:0: sendto: invalid argument"},
		{"write udp 10.0.0.1:1->[2001:db8::1]:9: x", "write udp IP:PORT->[IPv6]:PORT: x"},
		{"listen udp [::]:4000: y", "listen udp [::]:PORT: y"},
		{"dial udp 1.2.3.4: address 1.2.3.4: missing port in address", "dial udp IP: address IP: missing port in address"},
		{"address 65536: invalid port", "address 65536: invalid port"},
		{"write udp 127.0.0.1:5->:9: z", "write udp IP:PORT->:PORT: z"},
	} {
		if got := normalise(tc.in); got != tc.want {
			t.Errorf("normalise(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDescribeAddr(t *testing.T) {
	for _, tc := range []struct {
		a    net.Addr
		want string
	}{
		{nil, "net.Addr(nil)"},
		{(*net.UDPAddr)(nil), "*net.UDPAddr(nil)"},
		{&net.UDPAddr{IP: net.IPv4(1, 2, 3, 4), Port: 5}, `*net.UDPAddr{IP:v4/len16 Port:set Zone:""}`},
		{&net.UDPAddr{IP: net.IP{1, 2, 3, 4}}, `*net.UDPAddr{IP:v4/len4 Port:0 Zone:""}`},
		{&net.UDPAddr{Port: 5}, `*net.UDPAddr{IP:nil Port:set Zone:""}`},
		{&net.UDPAddr{IP: net.IPv6unspecified, Port: 5}, `*net.UDPAddr{IP:::/len16 Port:set Zone:""}`},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 5}, `*net.TCPAddr{IP:v6/len16 Port:set}`},
		{opaqueAddr{}, "opaque{Network:udp String:IP:PORT}"},
	} {
		if got := describeAddr(tc.a); got != tc.want {
			t.Errorf("describeAddr(%#v) = %q, want %q", tc.a, got, tc.want)
		}
	}
	if got, want := describeAddrPort(netip.MustParseAddrPort("[::ffff:1.2.3.4]:5")), "netip.AddrPort{v4in6 Port:set}"; got != want {
		t.Errorf("describeAddrPort of a mapped address = %q, want %q", got, want)
	}
}

type opaqueAddr struct{}

func (opaqueAddr) Network() string { return "udp" }
func (opaqueAddr) String() string  { return "10.1.2.3:99" }

func TestDescribeErr(t *testing.T) {
	err := &net.OpError{Op: "read", Net: "udp", Source: &net.UDPAddr{IP: net.IP{10, 0, 0, 1}, Port: 1},
		Err: os.NewSyscallError("read", syscall.ECONNREFUSED)}
	d := describeErr(err)
	want := errDesc{
		msg:     "read udp IP:PORT: read: connection refused",
		chain:   `*net.OpError{Op:read Net:udp Source:*net.UDPAddr{IP:v4/len4 Port:set Zone:""} Addr:net.Addr(nil)} -> *os.SyscallError{Syscall:read} -> syscall.Errno(ECONNREFUSED)`,
		is:      "ECONNREFUSED",
		timeout: "false",
	}
	if d != want {
		t.Errorf("describeErr = %+v\nwant %+v", d, want)
	}
	d = describeErr(&net.OpError{Op: "write", Net: "udp", Err: errors.New("missing address")})
	if d.chain != `*net.OpError{Op:write Net:udp Source:net.Addr(nil) Addr:net.Addr(nil)} -> opaque("missing address")` || d.is != "none" {
		t.Errorf("describeErr of an unexported link = %+v", d)
	}
	d = describeErr(os.ErrDeadlineExceeded)
	if d.chain != "os.ErrDeadlineExceeded" || d.is != "os.ErrDeadlineExceeded" || d.timeout != "true" {
		t.Errorf("describeErr(os.ErrDeadlineExceeded) = %+v", d)
	}
}
