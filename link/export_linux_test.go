package link

// Hooks for the kernel tests in package link_test.

// VnetRead is what a test sees of a frame read by a TAP with the
// virtio-net header: the header's fields, the frame's length (the read's,
// less the header's) and what the device did with it.
type VnetRead struct {
	Flags, GSOType                         uint8
	HdrLen, GSOSize, CsumStart, CsumOffset uint16
	Size                                   int
	Result                                 string
}

// Header flag and GSO type values, for tests to compare with.
const (
	VnetNeedsCsum = vnetNeedsCsum
	VnetDataValid = vnetDataValid
	VnetGSOTCPv4  = vnetGSOTCPv4
)

// ObserveVnet makes t call f, on the reading goroutine, for every frame
// it reads. Call it before reading.
func ObserveVnet(t *TAP, f func(VnetRead)) {
	t.rs.mu.Lock()
	defer t.rs.mu.Unlock()
	t.vr.observe = func(h vnetHdr, size int, r rxResult) {
		f(VnetRead{
			Flags: h.flags, GSOType: h.gsoType,
			HdrLen: h.hdrLen, GSOSize: h.gsoSize, CsumStart: h.csumStart, CsumOffset: h.csumOffset,
			Size: size, Result: r.String(),
		})
	}
}

// WithTUNFlags is WithOffloads asking TUNSETOFFLOAD for flags: with a bit
// the kernel does not know, it refuses.
func WithTUNFlags(flags uint) TAPOption {
	return func(c *tapConfig) { c.offloads, c.tunFlags = true, flags }
}
