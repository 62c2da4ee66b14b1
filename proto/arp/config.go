package arp

import "time"

// Config sets a Cache's limits and timing. The zero value of a field (or a
// negative one) selects its default.
type Config struct {
	// MaxEntries bounds the number of entries, static ones included
	// (default 512). A new entry beyond it evicts the least recently used
	// entry that is not static.
	MaxEntries int
	// ReachableTime is how long a confirmed entry is trusted before it
	// becomes Stale (default 30s).
	ReachableTime time.Duration
	// RetransTime is the wait before the first retry (default 1s); it
	// doubles with each retry, up to 64 times RetransTime. With the
	// default, requests for one address are at least a second apart, the
	// rate RFC 1122 2.3.2.1 recommends.
	RetransTime time.Duration
	// MaxRetries is the number of requests sent in all, for a resolution
	// or a re-validation, before it fails (default 3).
	MaxRetries int
	// QueueLen is the number of packets held per neighbour while it is
	// resolved (default 64). When the queue is full the oldest packet is
	// dropped (RFC 1122 2.3.2.2 asks for at least one; microps keeps none).
	QueueLen int
	// GCTime is how long a Stale entry may go unused before it is removed
	// (default 60s).
	GCTime time.Duration
}

// Defaults of Config.
const (
	DefaultMaxEntries    = 512
	DefaultReachableTime = 30 * time.Second
	DefaultRetransTime   = time.Second
	DefaultMaxRetries    = 3
	DefaultQueueLen      = 64
	DefaultGCTime        = 60 * time.Second
)

// maxBackoffShift caps the doubling of RetransTime at 64 times.
const maxBackoffShift = 6

func (cfg Config) withDefaults() Config {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.ReachableTime <= 0 {
		cfg.ReachableTime = DefaultReachableTime
	}
	if cfg.RetransTime <= 0 {
		cfg.RetransTime = DefaultRetransTime
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.GCTime <= 0 {
		cfg.GCTime = DefaultGCTime
	}
	return cfg
}
