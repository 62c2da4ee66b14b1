package linktest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// skipOrFail skips the test, or fails it when CI=true, because the
// environment cannot run it.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: failing rather than skipping)", msg)
	}
	t.Skip(msg)
}

// requireRoot skips (or, in CI, fails) a test not running as root.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "linktest: needs root to create network namespaces and interfaces; run as root, e.g. with `go test -exec sudo`")
	}
}

// uniqueName returns prefix followed by 8 random hex digits: short enough
// for an interface name, and unique across parallel tests and binaries.
func uniqueName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// namespace is a network namespace made by this package, with a netlink
// handle whose sockets live in it (usable from any goroutine).
type namespace struct {
	handle netns.NsHandle
	nl     *netlink.Handle
}

// inNewThread runs f on a new goroutine locked to its OS thread and
// returns what f returns. The goroutine never unlocks the thread, so when
// it ends the runtime kills the thread instead of returning it, perhaps
// still in another namespace, to the pool. A panic in f is re-raised in
// the caller; a runtime.Goexit in f (such as t.FailNow) is reported as an
// error, since it cannot cross goroutines.
func inNewThread(f func() error) error {
	type result struct {
		err      error
		panicked bool
		value    any
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		returned := false
		defer func() {
			if returned {
				return
			}
			if v := recover(); v != nil {
				ch <- result{panicked: true, value: v}
				return
			}
			ch <- result{err: errors.New("linktest: the function called runtime.Goexit (t.FailNow, t.Skip?), which only the test's own goroutine may do")}
		}()
		err := f()
		returned = true
		ch <- result{err: err}
	}()
	r := <-ch
	if r.panicked {
		panic(r.value)
	}
	return r.err
}

// newNamespace moves the calling thread, which must be locked and must
// never be unlocked, into a new network namespace, and brings up its
// loopback interface.
func newNamespace() (*namespace, error) {
	h, err := netns.New()
	if err != nil {
		return nil, err
	}
	n := &namespace{handle: h}
	if n.nl, err = netlink.NewHandleAt(h); err != nil {
		n.close()
		return nil, fmt.Errorf("linktest: netlink handle in namespace: %w", err)
	}
	lo, err := n.nl.LinkByName("lo")
	if err == nil {
		err = n.nl.LinkSetUp(lo)
	}
	if err != nil {
		n.close()
		return nil, fmt.Errorf("linktest: bringing up lo in namespace: %w", err)
	}
	return n, nil
}

// close releases the handles. The kernel removes the namespace, and its
// remaining virtual interfaces, once nothing else refers to it.
func (n *namespace) close() {
	if n.nl != nil {
		n.nl.Close()
	}
	n.handle.Close()
}

// do runs f on a thread in the namespace.
func (n *namespace) do(f func() error) error {
	return inNewThread(func() error {
		if err := netns.Set(n.handle); err != nil {
			return fmt.Errorf("linktest: entering namespace: %w", err)
		}
		return f()
	})
}

// deleteLink deletes the interface called name in the namespace, if it is
// still there.
func (n *namespace) deleteLink(name string) error {
	l, err := n.nl.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return err
	}
	return n.nl.LinkDel(l)
}

// neighbours lists the neighbour table of interface name in the namespace.
func (n *namespace) neighbours(name string) ([]netlink.Neigh, error) {
	l, err := n.nl.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("linktest: interface %q: %w", name, err)
	}
	return n.nl.NeighList(l.Attrs().Index, netlink.FAMILY_ALL)
}

// sysctl writes value to the network sysctl key in the namespace.
func (n *namespace) sysctl(key, value string) error {
	path, err := sysctlPath(key)
	if err != nil {
		return err
	}
	return n.do(func() error {
		if err := os.WriteFile(path, []byte(value), 0); err != nil {
			return fmt.Errorf("linktest: sysctl %s=%s: %w", key, value, err)
		}
		return nil
	})
}

// sysctlPath maps a network sysctl key, "net.ipv4.icmp_ratelimit" or
// "net/ipv4/icmp_ratelimit", to its file under /proc/sys. Only keys under
// net are allowed: the others are not per namespace, so writing them
// would change the host. In the dotted form, a dot can only separate
// components, so interface names with dots need the slash form.
func sysctlPath(key string) (string, error) {
	k := key
	if !strings.Contains(k, "/") {
		k = strings.ReplaceAll(k, ".", "/")
	}
	parts := strings.Split(k, "/")
	if len(parts) < 2 || parts[0] != "net" {
		return "", fmt.Errorf("linktest: sysctl %q: only keys under net are per network namespace", key)
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return "", fmt.Errorf("linktest: invalid sysctl key %q", key)
		}
	}
	return "/proc/sys/" + k, nil
}

// setUpError turns an error met while building a test network into a
// skip (for a missing privilege, unless CI=true) or a failure.
func setUpError(t testing.TB, what string, err error) {
	t.Helper()
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		skipOrFail(t, "linktest: %s: %v (needs CAP_SYS_ADMIN and CAP_NET_ADMIN: a container may need --privileged)", what, err)
	}
	t.Fatalf("linktest: %s: %v", what, err)
}
