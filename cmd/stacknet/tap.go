package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/stacknet/stacknet/link"
)

const tapSynopsis = `  stacknet tap create NAME [--mtu N] [--kernel-addr ADDR/BITS]
  stacknet tap delete NAME`

const tapAbout = `Tap create makes a persistent TAP interface, the wire between the kernel
and a stack started with 'stacknet run --tap NAME'. With --kernel-addr the
kernel's side gets that address, and the route to its subnet, and is
brought up. Tap delete removes the interface. Both need root (or
CAP_NET_ADMIN) and talk to the kernel over netlink.`

func runTap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "create":
		return tapCreate(args[1:], stdout)
	case "delete":
		return tapDelete(args[1:], stdout)
	case "-h", "-help", "--help":
		fs, _ := tapCreateFlags(stdout)
		fs.printUsage()
		return errHelp
	case "":
		return usageErrorf("missing the action: create or delete")
	}
	return usageErrorf("unknown action %q: want create or delete", sub)
}

// tapCreateOptions are the flags of tap create.
type tapCreateOptions struct {
	mtu        int
	kernelAddr netip.Prefix
}

// tapCreateFlags returns the flag set of tap create, which tap -h shows
// too (tap delete has no flags).
func tapCreateFlags(stdout io.Writer) (*flagSet, *tapCreateOptions) {
	var o tapCreateOptions
	fs := newFlagSet("tap create", tapSynopsis, tapAbout, stdout)
	fs.IntVar(&o.mtu, "mtu", 0, "create: the interface's MTU `N`; 0 keeps the kernel's default, 1500")
	fs.Func("kernel-addr", "create: give the kernel's side the address `ADDR/BITS`, such as 192.0.2.1/24, and bring it up", func(s string) error {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return errors.New("want an IPv4 address with its prefix length, such as 192.0.2.1/24")
		}
		o.kernelAddr = p
		return nil
	})
	return fs, &o
}

func tapCreate(args []string, stdout io.Writer) error {
	fs, o := tapCreateFlags(stdout)
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "the interface's NAME, such as tap0"); err != nil {
		return err
	}
	if o.mtu < 0 || o.mtu > 65535 {
		return usageErrorf("--mtu %d: want 0 (the default) or an MTU such as 1500 or 9000", o.mtu)
	}
	name, kernelAddr := pos[0], o.kernelAddr
	if err := link.CreateTAP(name, o.mtu); err != nil {
		return err
	}
	if !kernelAddr.IsValid() {
		fmt.Fprintf(stdout, "created TAP interface %s; it is down and has no address (give one with --kernel-addr)\n", name)
		return nil
	}
	if err := link.ConfigureKernelSide(name, kernelAddr); err != nil {
		// Leave nothing half made.
		if derr := link.DeleteLink(name); derr != nil {
			err = errors.Join(err, fmt.Errorf("and removing %s again: %w", name, derr))
		}
		return err
	}
	fmt.Fprintf(stdout, "created TAP interface %s; the kernel's side is %v and up\n", name, kernelAddr)
	if peer, ok := peerAddr(kernelAddr); ok {
		fmt.Fprintf(stdout, "next: stacknet run --tap %s --addr %v\n", name, peer)
	}
	return nil
}

// peerAddr suggests an address for the stack on the kernel side's
// subnet: the next one after the kernel's, if it is a host address.
func peerAddr(kernel netip.Prefix) (netip.Prefix, bool) {
	next := kernel.Addr().Next()
	sub := kernel.Masked()
	if !next.IsValid() || !sub.Contains(next) || kernel.Bits() >= 31 {
		return netip.Prefix{}, false
	}
	if next == broadcastAddr(sub) {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(next, kernel.Bits()), true
}

// broadcastAddr is the last address of an IPv4 subnet.
func broadcastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(a)
}

func tapDelete(args []string, stdout io.Writer) error {
	fs := newFlagSet("tap delete", tapSynopsis, tapAbout, stdout)
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "the interface's NAME, such as tap0"); err != nil {
		return err
	}
	if err := checkTAP(pos[0]); err != nil {
		return err
	}
	if err := link.DeleteLink(pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted interface %s\n", pos[0])
	return nil
}
