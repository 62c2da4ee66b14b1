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
type DeviceStats struct {
	RxFrames uint64
	RxBytes  uint64
	TxFrames uint64
	TxBytes  uint64
	Drops    uint64
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
}

func (c *counters) snapshot() DeviceStats {
	return DeviceStats{
		RxFrames: c.rxFrames.Load(),
		RxBytes:  c.rxBytes.Load(),
		TxFrames: c.txFrames.Load(),
		TxBytes:  c.txBytes.Load(),
		Drops:    c.drops.Load(),
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
