//go:build !linux

package compat_test

// tapWorlds are the TAP worlds, which only Linux has (TAP devices and
// network namespaces): none here.
func tapWorlds() []world { return nil }
