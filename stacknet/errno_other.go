//go:build !linux

package stacknet

import "syscall"

// errHostIsolated stands in for Linux's ENONET, which this system lacks.
const errHostIsolated = syscall.EHOSTUNREACH
