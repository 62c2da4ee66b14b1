// Package timers runs the protocol timers of one stack: ARP cache aging,
// IP reassembly timeouts, TCP retransmission, delayed ACK, TIME-WAIT and
// keepalive timers (RFC 9293 section 3.8, RFC 6298, RFC 1122 section
// 4.2.3.2 and 4.2.3.6), and any other per-connection or per-entry timeout.
// It implements no protocol itself.
//
// # Design
//
// A stack has one Service. The Service keeps every armed Timer in one
// indexed 4-ary min-heap ordered by deadline, ties broken by the order in
// which the timers were armed. Each heap entry holds its deadline (an
// integer count of nanoseconds since the service started, read from the
// monotonic clock) beside the *Timer, so sifting compares integers in one
// slice; each Timer remembers its own position, so Stop and Reset find it
// without searching and repair the heap in O(log n). A 4-ary heap is half
// as deep as a binary heap, which makes arming (a sift towards the root)
// cheaper and keeps the children compared on the way down in one or two
// cache lines. A hierarchical timing wheel would make arming O(1), but its
// granularity and cascading suit millions of coarse timers; a stack has
// thousands of timers of widely varied duration, which a heap orders
// exactly at no resolution cost.
//
// No Timer owns a goroutine or a runtime timer. The Service asks its Clock
// for a single wake-up, at the earliest deadline, and keeps that one
// wake-up for its whole life (moving it with Reset when the clock's
// Stopper is a Resetter, as the System clock's *time.Timer and the Fake's
// are). The wake-up is lazy: it is moved only when the earliest deadline
// moves earlier. Moving a deadline later, or stopping a timer, leaves it
// in place; if it then comes early, the service finds nothing due and
// re-arms for the real earliest deadline. TCP pushes its retransmission
// timer later on nearly every ACK, and that costs one heap fix and no
// clock call. Once the heap has grown to its working size, Reset, ResetAt,
// Stop and Init allocate nothing, and neither does a firing pass.
//
// # Callbacks
//
// When the wake-up comes, the service runs a firing pass on the goroutine
// the clock called it on (for the System clock, the goroutine of a
// time.AfterFunc; for a Fake, the goroutine calling Advance). The pass
// takes the earliest due timer off the heap under the service's lock,
// releases the lock, calls the timer's callback, and repeats until nothing
// is due, then arms the wake-up for the next deadline. So:
//
//   - Callbacks of one service run one at a time, never concurrently, in
//     deadline order (ties in arming order). A wake-up arriving during a
//     pass leaves the work to that pass.
//   - No lock of the service is held while a callback runs: a callback may
//     Reset, ResetAt or Stop any timer, its own included, arm new timers,
//     or Close the service.
//   - A timer a callback arms that is already due (Reset(0), or a deadline
//     already past) runs in the same pass.
//   - Stop prevents every call not yet begun and then returns true. Once
//     the pass has taken a timer off the heap to call it, its callback is
//     committed: Stop returns false, and Reset arms the timer anew.
//   - Callbacks must not block: while one runs, no other timer of the
//     service can fire. A timer that keeps re-arming itself already due
//     keeps its pass going forever. A callback that panics aborts its pass
//     but leaves the service usable.
//
// Close disarms every timer and cancels the wake-up; no callback starts
// after it returns except the one a pass on another goroutine had already
// committed to, and Reset after Close does nothing. CloseWait also waits
// for that callback to return.
//
// # Clocks
//
// System() is the real clock. Fake is a deterministic clock for tests:
// Advance runs the callbacks that fall due, in deadline order, with Now
// reading each one's deadline while it runs, so a stack driven by a Fake
// sees exactly the times it would see in real life, without waiting. A
// Service on a Fake runs each timer's callback with Now reading that
// timer's deadline (or, for a deadline already past when armed, the time
// it was found due). If a callback itself calls Advance, the time moves,
// but its own service's timers falling due meanwhile run only after that
// callback returns, reading the later time.
//
// Deadlines are kept relative to a reading of the clock taken by New.
// With System(), that reading has a monotonic component, so timers are not
// disturbed by changes to the wall clock.
package timers
