// Package linktest helps tests talk to the real Linux kernel over a link
// device: it makes a TAP interface (NewKernelTAP), or a veth pair under a
// PF_PACKET socket (NewKernelVeth), whose kernel side lives in a fresh
// network namespace with an address of the test's choosing, so a test can
// put frames on the wire and see what the kernel's own stack answers.
//
// Everything is made in network namespaces the helper creates, so the
// host's interfaces, addresses, routes and sysctls are never touched, and
// parallel tests (and parallel test binaries) cannot collide. The
// namespaces are unnamed: they leave nothing in /run/netns, and the kernel
// removes them, with their interfaces, when the last reference goes, even
// if the test binary dies. t.Cleanup closes the device and removes the
// namespaces and interfaces.
//
// The helpers need root (CAP_SYS_ADMIN and CAP_NET_ADMIN). Without it they
// skip the test with a message saying so, except when the environment
// variable CI is "true", when they fail it: in CI these tests must run.
//
// Only Linux has these helpers; elsewhere they skip the test.
package linktest
