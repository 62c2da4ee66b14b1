package stacknet

import "syscall"

// errHostIsolated is Linux's errno for ICMP "host isolated" (code 8).
const errHostIsolated = syscall.ENONET
