package stacknet

import (
	"net"
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
