package linktest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestKernelTAPNamespace(t *testing.T) {
	t.Parallel()
	k := NewKernelTAP(t, netip.MustParsePrefix("192.0.2.1/24"), 0)
	if !strings.HasPrefix(k.Name, "sntap") || k.Dev.Name() != k.Name || k.Dev.MTU() != 1500 {
		t.Errorf("Name %q, Dev %q MTU %d", k.Name, k.Dev.Name(), k.Dev.MTU())
	}
	// The interface lives in the namespace, not here.
	if _, err := net.InterfaceByName(k.Name); err == nil {
		t.Errorf("%s is visible in the test's own namespace", k.Name)
	}
	var conn net.PacketConn
	err := k.Do(func() error {
		ifi, err := net.InterfaceByName(k.Name)
		if err != nil {
			return err
		}
		if ifi.Flags&net.FlagUp == 0 || ifi.MTU != 1500 {
			return fmt.Errorf("%s: flags %v MTU %d, want up, 1500", k.Name, ifi.Flags, ifi.MTU)
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return err
		}
		if len(addrs) == 0 || !strings.Contains(fmt.Sprint(addrs), "192.0.2.1/24") {
			return fmt.Errorf("%s has addresses %v, want 192.0.2.1/24", k.Name, addrs)
		}
		lo, err := net.InterfaceByName("lo")
		if err != nil || lo.Flags&net.FlagUp == 0 {
			return fmt.Errorf("lo not up in the namespace: %v %v", lo, err)
		}
		// Only the namespace has this address to bind to.
		conn, err = net.ListenPacket("udp4", "192.0.2.1:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The socket stays in the namespace when used from here: it can
	// reach the namespace's loopback address, bound there too.
	var echo net.PacketConn
	if err := k.Do(func() (err error) { echo, err = net.ListenPacket("udp4", "127.0.0.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	if _, err := conn.WriteTo([]byte("hello"), echo.LocalAddr()); err != nil {
		t.Fatalf("WriteTo from another goroutine: %v", err)
	}
	buf := make([]byte, 16)
	n, from, err := echo.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hello" || !strings.HasPrefix(from.String(), "192.0.2.1:") {
		t.Errorf("ReadFrom = %q from %v, %v; want hello from 192.0.2.1", buf[:n], from, err)
	}
}

func TestKernelTAPNoAddress(t *testing.T) {
	t.Parallel()
	k := NewKernelTAP(t, netip.Prefix{}, 1280)
	if k.Dev.MTU() != 1280 {
		t.Errorf("MTU = %d, want 1280", k.Dev.MTU())
	}
	err := k.Do(func() error {
		ifi, err := net.InterfaceByName(k.Name)
		if err != nil {
			return err
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
				return fmt.Errorf("%s has IPv4 address %v, want none", k.Name, a)
			}
		}
		if ifi.Flags&net.FlagUp == 0 {
			return fmt.Errorf("%s is down", k.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSysctl(t *testing.T) {
	t.Parallel()
	k := NewKernelTAP(t, netip.MustParsePrefix("192.0.2.1/24"), 0)
	const file = "/proc/sys/net/ipv4/icmp_ratelimit"
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Values not the default (1000), in whole jiffies at any HZ.
	for key, value := range map[string]string{"net.ipv4.icmp_ratelimit": "0", "net/ipv4/icmp_ratelimit": "500"} {
		if err := k.Sysctl(key, value); err != nil {
			t.Fatalf("Sysctl(%s): %v", key, err)
		}
		var got []byte
		if err := k.Do(func() (err error) { got, err = os.ReadFile(file); return err }); err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(got)) != value {
			t.Errorf("in the namespace %s = %q, want %s", key, got, value)
		}
	}
	// Per-interface keys with the slash form.
	if err := k.Sysctl("net/ipv4/conf/"+k.Name+"/rp_filter", "0"); err != nil {
		t.Errorf("per-interface sysctl: %v", err)
	}
	after, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Errorf("the test's own namespace changed: %s was %q, now %q", file, before, after)
	}
	for _, bad := range []string{"kernel.hostname", "net", "net/../kernel/hostname", "net//ipv4", "net.ipv4.no_such_key"} {
		if err := k.Sysctl(bad, "1"); err == nil {
			t.Errorf("Sysctl(%q) succeeded", bad)
		}
	}
}

func TestDo(t *testing.T) {
	t.Parallel()
	k := NewKernelTAP(t, netip.Prefix{}, 0)
	sentinel := errors.New("sentinel")
	if err := k.Do(func() error { return sentinel }); err != sentinel {
		t.Errorf("Do returned %v, want f's error", err)
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want f's panic value", v)
			}
		}()
		k.Do(func() error { panic("boom") })
		t.Error("Do returned after f panicked")
	}()
	if err := k.Do(func() error { t.SkipNow(); return nil }); err == nil || !strings.Contains(err.Error(), "Goexit") {
		t.Errorf("Do of a Goexit = %v, want an error saying so", err)
	}
}

func TestKernelVeth(t *testing.T) {
	t.Parallel()
	v := NewKernelVeth(t, netip.MustParsePrefix("198.51.100.1/24"), 9000)
	if v.Dev.MTU() != 9000 || v.Dev.Name() != v.Name {
		t.Errorf("Dev %q MTU %d, want %q 9000", v.Dev.Name(), v.Dev.MTU(), v.Name)
	}
	for _, name := range []string{v.Name, v.Peer} {
		if _, err := net.InterfaceByName(name); err == nil {
			t.Errorf("%s is visible in the test's own namespace", name)
		}
	}
	err := v.Do(func() error {
		if _, err := net.InterfaceByName(v.Name); err == nil {
			return fmt.Errorf("the device's end %s is in the kernel's namespace", v.Name)
		}
		ifi, err := net.InterfaceByName(v.Peer)
		if err != nil {
			return err
		}
		addrs, _ := ifi.Addrs()
		if ifi.MTU != 9000 || !strings.Contains(fmt.Sprint(addrs), "198.51.100.1/24") {
			return fmt.Errorf("%s: MTU %d addresses %v", v.Peer, ifi.MTU, addrs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Neighbours(); err != nil {
		t.Errorf("Neighbours: %v", err)
	}
	if err := v.Sysctl("net.ipv4.icmp_ratelimit", "0"); err != nil {
		t.Errorf("Sysctl: %v", err)
	}
}

// Cleanup closes the device and deletes the interface. (The namespace
// itself goes when the last reference does; this test holds one, to look.)
func TestCleanup(t *testing.T) {
	var k *Kernel
	var h *netlink.Handle
	t.Run("make", func(t *testing.T) {
		k = NewKernelTAP(t, netip.MustParsePrefix("192.0.2.1/24"), 0)
		var err error
		if h, err = netlink.NewHandleAt(k.ns.handle); err != nil {
			t.Fatal(err)
		}
	})
	if h == nil {
		t.Skip("no Kernel was made: see the subtest")
	}
	defer h.Close()
	if _, err := k.Dev.WriteFrames([][]byte{make([]byte, 60)}); err == nil {
		t.Errorf("the device is still open after cleanup")
	}
	if _, err := h.LinkByName("lo"); err != nil {
		t.Fatalf("looking in the namespace: %v", err)
	}
	if l, err := h.LinkByName(k.Name); err == nil {
		t.Errorf("%s still exists after cleanup: %+v", k.Name, l.Attrs())
	}
}

func TestSysctlPath(t *testing.T) {
	tests := []struct {
		key, want string
	}{
		{"net.ipv4.icmp_ratelimit", "/proc/sys/net/ipv4/icmp_ratelimit"},
		{"net/ipv4/icmp_ratelimit", "/proc/sys/net/ipv4/icmp_ratelimit"},
		{"net/ipv4/conf/eth0.1/rp_filter", "/proc/sys/net/ipv4/conf/eth0.1/rp_filter"},
		{"kernel.hostname", ""},
		{"net", ""},
		{"", ""},
		{"net/../kernel", ""},
		{"net..ipv4", ""},
		{"/net/ipv4", ""},
		{"net/ipv4/", ""},
	}
	for _, tt := range tests {
		got, err := sysctlPath(tt.key)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("sysctlPath(%q) = %q, %v; want %q", tt.key, got, err, tt.want)
		}
	}
}

// FuzzSysctlPath checks that no key leads outside /proc/sys/net.
func FuzzSysctlPath(f *testing.F) {
	for _, k := range []string{"net.ipv4.icmp_ratelimit", "net/ipv4/conf/a.b/x", "net/../..", "net/./x", "kernel.x"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		path, err := sysctlPath(key)
		if err != nil {
			return
		}
		if !strings.HasPrefix(path, "/proc/sys/net/") || filepath.Clean(path) != path {
			t.Errorf("sysctlPath(%q) = %q, outside /proc/sys/net or not clean", key, path)
		}
	})
}

// fakeTB records Skip and Fatal instead of acting on a real test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.skipped = fmt.Sprint(args...)
	runtimeGoexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtimeGoexit()
}

func TestSkipOrFail(t *testing.T) {
	for _, ci := range []string{"", "false", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			f := &fakeTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				skipOrFail(f, "needs %s", "root")
			}()
			<-done
			if ci == "true" {
				if f.failed == "" || f.skipped != "" || !strings.Contains(f.failed, "needs root") {
					t.Errorf("CI=true: skipped %q, failed %q; want a failure", f.skipped, f.failed)
				}
			} else if f.skipped != "needs root" || f.failed != "" {
				t.Errorf("CI=%q: skipped %q, failed %q; want a skip", ci, f.skipped, f.failed)
			}
		})
	}
}

var runtimeGoexit = runtime.Goexit
