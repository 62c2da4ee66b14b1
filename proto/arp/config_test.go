package arp

import (
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	got := Config{MaxEntries: -1, GCTime: -time.Second}.withDefaults()
	want := Config{
		MaxEntries: 512, ReachableTime: 30 * s, RetransTime: 1 * s,
		MaxRetries: 3, QueueLen: 64, GCTime: 60 * s,
	}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	set := Config{MaxEntries: 1, ReachableTime: 2, RetransTime: 3, MaxRetries: 4, QueueLen: 5, GCTime: 6}
	if got := set.withDefaults(); got != set {
		t.Errorf("withDefaults changed %+v to %+v", set, got)
	}
}
