package link

import "sync/atomic"

// DeviceStats counts a device's traffic since it was opened.
//
// TxFrames and TxBytes count frames the device put on its wire (for a Pipe,
// frames handed to the peer's receive queue, even if the peer then drops
// them because its queue is full). RxFrames and RxBytes count frames
// handed to ReadFrames. Drops counts frames the device dropped in either
// direction: a frame too long or too short for the link, a frame sent
// while the peer end was closed (a cut cable), a frame that arrived while
// the receive queue was full, or a frame the kernel refused.
//
// The other counters are those of a device with offloads (a TAP opened
// WithOffloads), zero elsewhere. RxGSOFrames counts frames read that hold
// several of the wire's TCP segments in one (virtio-net gso_type TCPV4),
// TxGSOFrames segments written with WriteSegment for the kernel to cut
// up; both are in RxFrames and TxFrames too. RxChecksumsCompleted counts
// frames read whose partial checksum (NEEDS_CSUM) the device completed.
// The remaining three count frames read and dropped, also counted in
// Drops: RxChecksumErrors for a wrong TCP checksum the stack would not
// have checked, RxBadHeaders for a virtio-net header that does not fit its
// frame (or a read shorter than one), RxTooLong for a frame longer than
// the buffer it was read into (never delivered truncated).
type DeviceStats struct {
	RxFrames uint64
	RxBytes  uint64
	TxFrames uint64
	TxBytes  uint64
	Drops    uint64

	RxGSOFrames          uint64
	TxGSOFrames          uint64
	RxChecksumsCompleted uint64
	RxChecksumErrors     uint64
	RxBadHeaders         uint64
	RxTooLong            uint64
}

// A StatsReporter is a device that counts its traffic. Every device in
// this package is one.
type StatsReporter interface {
	Stats() DeviceStats
}

// counters is the live form of DeviceStats: each field is updated with
// one atomic add per batch, so readers and writers never share a lock for
// it.
type counters struct {
	rxFrames, rxBytes atomic.Uint64
	txFrames, txBytes atomic.Uint64
	drops             atomic.Uint64

	rxGSO, txGSO         atomic.Uint64
	rxCsumCompleted      atomic.Uint64
	rxCsumErrors         atomic.Uint64
	rxBadHeaders, rxLong atomic.Uint64
}

func (c *counters) snapshot() DeviceStats {
	return DeviceStats{
		RxFrames: c.rxFrames.Load(),
		RxBytes:  c.rxBytes.Load(),
		TxFrames: c.txFrames.Load(),
		TxBytes:  c.txBytes.Load(),
		Drops:    c.drops.Load(),

		RxGSOFrames:          c.rxGSO.Load(),
		TxGSOFrames:          c.txGSO.Load(),
		RxChecksumsCompleted: c.rxCsumCompleted.Load(),
		RxChecksumErrors:     c.rxCsumErrors.Load(),
		RxBadHeaders:         c.rxBadHeaders.Load(),
		RxTooLong:            c.rxLong.Load(),
	}
}

// addRx counts frames handed to ReadFrames.
func (c *counters) addRx(sizes []int) {
	if len(sizes) == 0 {
		return
	}
	var b uint64
	for _, s := range sizes {
		b += uint64(s)
	}
	c.rxFrames.Add(uint64(len(sizes)))
	c.rxBytes.Add(b)
}

// addTx counts frames put on the wire and frames dropped by one write.
func (c *counters) addTx(frames, bytes, drops uint64) {
	if frames != 0 {
		c.txFrames.Add(frames)
		c.txBytes.Add(bytes)
	}
	if drops != 0 {
		c.drops.Add(drops)
	}
}

// rxOffloadCounts are the offload counters of one ReadFrames call, kept
// by the reader and added to the shared counters once per call.
type rxOffloadCounts struct {
	gso, completed, csumErrors, badHeaders, tooLong uint64
}

// addRxOffload adds one call's offload counters, and its drops.
func (c *counters) addRxOffload(r *rxOffloadCounts) {
	addNonZero(&c.rxGSO, r.gso)
	addNonZero(&c.rxCsumCompleted, r.completed)
	addNonZero(&c.rxCsumErrors, r.csumErrors)
	addNonZero(&c.rxBadHeaders, r.badHeaders)
	addNonZero(&c.rxLong, r.tooLong)
	addNonZero(&c.drops, r.csumErrors+r.badHeaders+r.tooLong)
}

// addNonZero adds n to a, sparing the shared cache line when n is zero.
func addNonZero(a *atomic.Uint64, n uint64) {
	if n != 0 {
		a.Add(n)
	}
}
