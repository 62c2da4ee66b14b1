// Package compat holds the compatibility tests of stacknet's sockets
// against package net's on Linux. It has no non-test code: the tests, in
// package compat_test, run every scenario twice — once with the standard
// library on the kernel's loopback interface, once with two stacknet
// Stacks joined by an in-memory link.Pipe — record a normalised outcome of
// each run (results, error chains and messages, errors.Is answers,
// address types) and fail with a cmp.Diff when the two differ.
//
// The method and its normalisation rules are described at the top of
// compat_test.go.
package compat
