package link

import (
	"net"
	"sync"
)

// Null returns an Ethernet device with a random MAC address that is
// attached to nothing: what is written is counted (as transmitted) and
// discarded, and ReadFrames blocks until Close. mtu 0 means 1500.
func Null(mtu int) Device {
	if mtu <= 0 {
		mtu = 1500
	}
	return &nullDevice{mtu: mtu, mac: RandomMAC(), done: make(chan struct{})}
}

type nullDevice struct {
	mtu   int
	mac   net.HardwareAddr
	stats counters
	once  sync.Once
	done  chan struct{} // closed by Close
}

// ReadFrames implements Device: it waits for Close.
func (d *nullDevice) ReadFrames(bufs [][]byte, sizes []int) (int, error) {
	if len(bufs) == 0 || len(sizes) == 0 {
		select {
		case <-d.done:
			return 0, ErrClosed
		default:
			return 0, nil
		}
	}
	<-d.done
	return 0, ErrClosed
}

// WriteFrames implements Device.
func (d *nullDevice) WriteFrames(frames [][]byte) (int, error) {
	select {
	case <-d.done:
		return 0, ErrClosed
	default:
	}
	var bytes uint64
	for _, f := range frames {
		bytes += uint64(len(f))
	}
	d.stats.addTx(uint64(len(frames)), bytes, 0)
	return len(frames), nil
}

// MTU implements Device.
func (d *nullDevice) MTU() int { return d.mtu }

// HardwareAddr implements Device.
func (d *nullDevice) HardwareAddr() net.HardwareAddr { return d.mac }

// Kind implements Device.
func (d *nullDevice) Kind() Kind { return Ethernet }

// Stats implements StatsReporter.
func (d *nullDevice) Stats() DeviceStats { return d.stats.snapshot() }

// Close implements Device.
func (d *nullDevice) Close() error {
	d.once.Do(func() { close(d.done) })
	return nil
}
