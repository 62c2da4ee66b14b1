package arp

import "fmt"

// State is the state of a neighbour cache entry. The states follow Linux's
// neighbour unreachability detection (itself after RFC 4861 7.3.2), which
// implements the cache validation of RFC 1122 2.3.2.1.
type State uint8

const (
	// Incomplete: a request was sent and no answer has come yet. Packets
	// for the neighbour wait in the entry's queue.
	Incomplete State = iota
	// Reachable: the address was confirmed less than ReachableTime ago.
	Reachable
	// Stale: the address is known but has not been confirmed for
	// ReachableTime. It is used as it is; its first use starts Probe.
	Stale
	// Probe: the address is in use and being re-validated with unicast
	// requests (RFC 1122 2.3.2.1, "unicast poll").
	Probe
	// Static: the address was set by AddStatic. It never ages and is
	// never evicted.
	Static
)

func (s State) String() string {
	switch s {
	case Incomplete:
		return "incomplete"
	case Reachable:
		return "reachable"
	case Stale:
		return "stale"
	case Probe:
		return "probe"
	case Static:
		return "static"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}
