package link

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The classic libpcap file format (draft-ietf-opsawg-pcap): a 24-byte
// global header, then per frame a 16-byte record header and the captured
// bytes. Files are written little-endian; readers detect the byte order
// from the magic number.
const (
	pcapMagic          = 0xa1b2c3d4 // microsecond timestamps
	pcapVersionMajor   = 2
	pcapVersionMinor   = 4
	pcapDefaultSnaplen = 262144
	pcapHeaderLen      = 24
	pcapRecordLen      = 16

	// Link types from the tcpdump.org LINKTYPE registry.
	pcapLinkTypeEthernet = 1   // LINKTYPE_ETHERNET
	pcapLinkTypeRaw      = 101 // LINKTYPE_RAW: bare IPv4 or IPv6
)

// Captured is a Device that records every frame read from or written to
// another in a pcap file, as tcpdump -w would. Written frames are recorded
// once the device has taken them, read frames once read.
//
// Capturing never slows frames down more than one write to the file per
// frame, and it never stops them: if writing the file fails, capturing
// stops, frames keep flowing, and Err reports the failure.
type Captured struct {
	dev     Device
	now     func() time.Time
	snaplen int

	mu  sync.Mutex // serialises records; guards w, buf and err
	w   io.Writer
	buf []byte
	err error
}

// A CaptureOption configures Capture.
type CaptureOption func(*Captured)

// CaptureClock stamps records with now instead of time.Now.
func CaptureClock(now func() time.Time) CaptureOption {
	return func(c *Captured) { c.now = now }
}

// Capture wraps dev and writes the pcap global header to w at once. Each
// record keeps at most snaplen bytes of its frame; snaplen 0 means 262144.
// The file's link type is LINKTYPE_ETHERNET for an Ethernet device and
// LINKTYPE_RAW for an IP one. Closing the Captured closes dev, not w.
func Capture(dev Device, w io.Writer, snaplen int, opts ...CaptureOption) (*Captured, error) {
	if snaplen == 0 {
		snaplen = pcapDefaultSnaplen
	}
	if snaplen < 0 || int64(snaplen) > 1<<31-1 {
		return nil, fmt.Errorf("link: capture snaplen %d out of range", snaplen)
	}
	var linkType uint32
	switch dev.Kind() {
	case Ethernet:
		linkType = pcapLinkTypeEthernet
	case IP:
		linkType = pcapLinkTypeRaw
	default:
		return nil, fmt.Errorf("link: cannot capture a device of kind %v", dev.Kind())
	}
	c := &Captured{dev: dev, now: time.Now, snaplen: snaplen, w: w}
	for _, o := range opts {
		o(c)
	}
	// Room for a full-sized frame, so that recording allocates nothing.
	c.buf = make([]byte, 0, pcapRecordLen+min(snaplen, dev.MTU()+HeaderLen(dev.Kind())))
	le := binary.LittleEndian
	h := le.AppendUint32(c.buf, pcapMagic)
	h = le.AppendUint16(h, pcapVersionMajor)
	h = le.AppendUint16(h, pcapVersionMinor)
	h = le.AppendUint32(h, 0) // thiszone: timestamps are UTC
	h = le.AppendUint32(h, 0) // sigfigs
	h = le.AppendUint32(h, uint32(snaplen))
	h = le.AppendUint32(h, linkType)
	if err := pcapWriteFull(w, h); err != nil {
		return nil, fmt.Errorf("link: writing pcap header: %w", err)
	}
	return c, nil
}

// Err returns the error that stopped capturing, or nil.
func (c *Captured) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// ReadFrames reads from the wrapped device and records what it read.
func (c *Captured) ReadFrames(bufs [][]byte, sizes []int) (int, error) {
	n, err := c.dev.ReadFrames(bufs, sizes)
	if n > 0 {
		c.mu.Lock()
		if c.err == nil {
			t := c.now()
			for i := range n {
				c.record(t, bufs[i][:min(sizes[i], len(bufs[i]))])
			}
		}
		c.mu.Unlock()
	}
	return n, err
}

// WriteFrames writes to the wrapped device and records what it took.
func (c *Captured) WriteFrames(frames [][]byte) (int, error) {
	n, err := c.dev.WriteFrames(frames)
	if n > 0 {
		c.mu.Lock()
		if c.err == nil {
			t := c.now()
			for _, f := range frames[:min(n, len(frames))] {
				c.record(t, f)
			}
		}
		c.mu.Unlock()
	}
	return n, err
}

// record writes one record in a single Write. It runs with c.mu held.
func (c *Captured) record(t time.Time, f []byte) {
	if c.err != nil {
		return
	}
	incl := min(len(f), c.snaplen)
	le := binary.LittleEndian
	b := le.AppendUint32(c.buf[:0], uint32(t.Unix()))
	b = le.AppendUint32(b, uint32(t.Nanosecond()/1000))
	b = le.AppendUint32(b, uint32(incl))
	b = le.AppendUint32(b, uint32(len(f)))
	b = append(b, f[:incl]...)
	c.buf = b
	if err := pcapWriteFull(c.w, b); err != nil {
		c.err = fmt.Errorf("link: writing pcap record: %w", err)
	}
}

// pcapWriteFull writes b in one call, reporting a short write as an error.
func pcapWriteFull(w io.Writer, b []byte) error {
	n, err := w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}

// MTU returns the wrapped device's MTU.
func (c *Captured) MTU() int { return c.dev.MTU() }

// HardwareAddr returns the wrapped device's address.
func (c *Captured) HardwareAddr() net.HardwareAddr { return c.dev.HardwareAddr() }

// Kind returns the wrapped device's kind.
func (c *Captured) Kind() Kind { return c.dev.Kind() }

// Name is the inner device's name (Namer), or "".
func (c *Captured) Name() string { return nameOf(c.dev) }

// Close closes the wrapped device, not the writer.
func (c *Captured) Close() error { return c.dev.Close() }
