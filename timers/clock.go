package timers

import "time"

// A Clock tells the time and schedules one callback. The real clock is
// System(); tests use a *Fake and drive it by hand.
//
// A Service calls AfterFunc and the returned Stopper's methods with its own
// lock held, so an implementation must never call f before AfterFunc
// returns, and must never call into the Service from AfterFunc, Stop or
// Reset.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once, on a goroutine of the clock's choosing, when
	// d has passed. The Fake clock calls it from Advance.
	AfterFunc(d time.Duration, f func()) Stopper
}

// A Stopper cancels a callback scheduled by AfterFunc. Stop reports
// whether it prevented the call.
type Stopper interface {
	Stop() bool
}

// A Resetter is a Stopper that can also be rescheduled, with the semantics
// of (*time.Timer).Reset on a timer made by time.AfterFunc: the callback is
// moved to run after d (or, if it already ran or started, scheduled to run
// again), and Reset reports whether the callback was still pending.
//
// When the Stopper returned by a Clock's AfterFunc is a Resetter, a Service
// keeps that one wake-up for its whole life and moves it with Reset, so
// re-arming the wake-up allocates nothing. Both System() and *Fake return
// Resetters.
type Resetter interface {
	Stopper
	Reset(d time.Duration) bool
}

// System returns the system clock (time.Now and time.AfterFunc).
func System() Clock { return systemClock{} }

// systemClock is stateless: two stacks calling System() share nothing.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// AfterFunc returns the *time.Timer itself, which is a Resetter.
func (systemClock) AfterFunc(d time.Duration, f func()) Stopper {
	return time.AfterFunc(d, f)
}
