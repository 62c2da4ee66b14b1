//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts are only meaningful without it.

package stacknet

import (
	"io"
	"testing"
)

// TestTCPSteadyStateAllocs: a 1 KiB Write and the Read of it at the other
// end allocate nothing anywhere in the process once the connection is
// warm: not in the facade, the machine, the input path or the device.
func TestTCPSteadyStateAllocs(t *testing.T) {
	a, b := pair(t, Config{})
	c, s := tfConnect(t, a, tfListen(t, b, tfServer))
	msg, buf := make([]byte, 1024), make([]byte, 1024)
	round := func(w io.Writer, r io.Reader) {
		if _, err := w.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
	}
	// Warm up: grow the buffers, fill the pools, open the windows.
	for range 2000 {
		round(c, s)
		round(s, c)
	}
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"client to server", func() { round(c, s) }},
		{"server to client", func() { round(s, c) }},
	} {
		if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
			t.Errorf("%s: %v allocations per 1 KiB Write+Read, want 0", tc.name, n)
		}
	}
}
