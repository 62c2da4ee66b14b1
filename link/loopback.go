package link

// Loopback returns a device of kind IP whose frames are bare IP datagrams
// with no link header: every datagram written comes back from ReadFrames,
// in order. mtu 0 means 65536, the Linux loopback's MTU. HardwareAddr is
// nil.
//
// Like one end of a Pipe, it queues up to 1024 datagrams for its reader
// and drops (and counts) what arrives while the queue is full, so a
// writer never blocks, even the reader goroutine writing to itself. A
// datagram longer than the MTU, or empty, is dropped and counted. It
// offers OffloadChecksum, as Linux's lo does.
func Loopback(mtu int) Device {
	if mtu <= 0 {
		mtu = 65536
	}
	d := newQueueDevice(IP, mtu, nil, queueLen)
	d.peer = d
	d.offloads = OffloadChecksum
	return d
}
