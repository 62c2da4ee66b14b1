package stacknet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
)

// The errors below are built the way the standard library builds them on
// Linux, so that code written against package net (errors.Is with
// net.ErrClosed, os.ErrDeadlineExceeded or a syscall.Errno, a type switch on
// *net.OpError or *os.SyscallError) works unchanged.

// sysErr wraps an errno as the named system call would have returned it.
func sysErr(syscallName string, errno syscall.Errno) error {
	return os.NewSyscallError(syscallName, errno)
}

// errDeadline is what a call that ran past its deadline returns inside its
// *net.OpError: os.ErrDeadlineExceeded itself, whose Timeout() is true.
var errDeadline = os.ErrDeadlineExceeded

// errClosed is what any call on a closed socket returns inside its
// *net.OpError.
var errClosed = net.ErrClosed

// opError builds a *net.OpError, keeping nil addresses as untyped nil so
// that the error prints as the standard library's does.
func opError(op, network string, source, addr net.Addr, err error) *net.OpError {
	return &net.OpError{Op: op, Net: network, Source: source, Addr: addr, Err: err}
}

// errCanceled and errTimeout are what package net's dial returns inside
// its *net.OpError when the context is cancelled or its deadline passes
// (net's mapErr): "operation was canceled", which errors.Is matches with
// context.Canceled, and "i/o timeout", a timeout that errors.Is matches
// with context.DeadlineExceeded.
var (
	errCanceled error = canceledError{}
	errTimeout  error = &timeoutError{}
)

type canceledError struct{}

func (canceledError) Error() string        { return "operation was canceled" }
func (canceledError) Is(target error) bool { return target == context.Canceled }

type timeoutError struct{}

func (*timeoutError) Error() string        { return "i/o timeout" }
func (*timeoutError) Timeout() bool        { return true }
func (*timeoutError) Temporary() bool      { return true }
func (*timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// mapContextErr turns a context's error into what package net's dial
// returns.
func mapContextErr(err error) error {
	switch err {
	case context.Canceled:
		return errCanceled
	case context.DeadlineExceeded:
		return errTimeout
	}
	return err
}

// errMissingAddress is package net's error for a send with no address.
var errMissingAddress = errors.New("missing address")

// addrPortUDPAddr is the net.Addr package net puts in the errors of the
// netip-based UDP methods: its network is "udp" and it prints as the
// AddrPort does ("invalid AddrPort" for the zero value).
type addrPortUDPAddr struct{ netip.AddrPort }

func (addrPortUDPAddr) Network() string { return "udp" }

// resolvedUDPAddr is an address as net.ResolveUDPAddr returns it, with
// the 16-byte IP of net.ParseIP: package net's dial and listen errors
// carry addresses of this form.
func resolvedUDPAddr(ap netip.AddrPort) *net.UDPAddr {
	a16 := ap.Addr().As16()
	return &net.UDPAddr{IP: net.IP(a16[:]), Port: int(ap.Port())}
}

// udpListenAddr is laddr as package net's listen errors carry it: as
// resolvedUDPAddr makes it, but with no IP, printed ":port", if laddr has
// no address.
func udpListenAddr(laddr netip.AddrPort) *net.UDPAddr {
	a := resolvedUDPAddr(laddr)
	if !laddr.Addr().IsValid() {
		a.IP = nil
	}
	return a
}

// nonIPv4 is package net's error for an IPv6 address on an IPv4 socket.
func nonIPv4(a netip.Addr) error {
	return &net.AddrError{Err: "non-IPv4 address", Addr: a.String()}
}
