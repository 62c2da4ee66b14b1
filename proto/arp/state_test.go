package arp

import "testing"

func TestStateString(t *testing.T) {
	tests := []struct {
		s    State
		want string
	}{
		{Incomplete, "incomplete"},
		{Reachable, "reachable"},
		{Stale, "stale"},
		{Probe, "probe"},
		{Static, "static"},
		{9, "State(9)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("State(%d).String() = %q, want %q", uint8(tt.s), got, tt.want)
		}
	}
}
