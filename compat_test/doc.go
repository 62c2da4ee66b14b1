// Package compat holds the compatibility tests of stacknet's sockets
// against package net's on Linux. It has no non-test code: the tests, in
// package compat_test, run every UDP and TCP scenario in up to four
// worlds, record a normalised outcome of each run (results, error chains
// and messages, errors.Is answers, address types), and fail with a
// cmp.Diff when a world's outcome differs from the first's:
//
//   - "net": the standard library on the kernel's loopback interface, the
//     reference;
//   - "pipe": two stacknet Stacks joined by an in-memory link.Pipe;
//   - "tap-client": a stacknet Stack dialling the Linux kernel through a
//     TAP device whose other end is in a network namespace the test
//     makes;
//   - "tap-server": the kernel in that namespace dialling a stacknet
//     Stack.
//
// In the TAP worlds stacknet talks to a real, independent TCP/IP stack
// rather than to itself. They need root (and Linux): without it they
// skip, and with CI=true they fail, while the net and pipe worlds still
// run. Each world is a subtest of each scenario, so
// go test -run 'TCPCompat/TCPDialRefused/tap-server' runs one.
//
// The method and its normalisation rules are described at the top of
// compat_test.go.
package compat
