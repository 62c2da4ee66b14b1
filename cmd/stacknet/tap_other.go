//go:build !linux

package main

// checkTAP has nothing to check where there are no TAP interfaces:
// link.DeleteLink reports that.
func checkTAP(name string) error { return nil }
