package ipv4

import (
	"encoding/binary"
	"errors"
)

// Errors of Fragment.
var (
	ErrMTU          = errors.New("ipv4: MTU below 68")
	ErrFragNeeded   = errors.New("ipv4: datagram larger than the MTU and DF set")
	ErrScratchShort = errors.New("ipv4: header scratch shorter than MaxHeaderLen")
)

// Option types with a meaning to fragmentation (RFC 791 3.1).
const (
	OptEOL    = 0    // end of option list
	OptNOP    = 1    // no operation
	optCopied = 0x80 // the copied flag of the option type
)

// Fragment splits the datagram d, a Header that Parse accepted, into
// fragments of at most mtu bytes (RFC 791 3.2, "An Example
// Fragmentation Procedure"). For each fragment it writes the header into
// hdr, a scratch buffer of at least MaxHeaderLen bytes, and calls
// emit(hdr[:hl], payload), where payload is a slice of d: emit must
// consume or copy both before it returns, since hdr is reused. Fragment
// stops at the first error of emit and returns it.
//
// The first fragment carries the options of d; the others carry only the
// options whose copied flag is set (RFC 791 3.1), padded with
// end-of-option-list to a multiple of four bytes. Each fragment but the
// last carries a multiple of eight bytes of data and has MF set. When d is
// itself a fragment (a router refragmenting), the offsets start at d's and
// the last piece keeps d's MF. A datagram that fits in mtu is emitted
// whole, its header unchanged.
//
// Errors: ErrMTU if mtu < MinMTU, ErrFragNeeded if d does not fit and has
// DF set (the caller sends ICMP "fragmentation needed", RFC 1191, or
// reports EMSGSIZE), ErrTooBig if d (a fragment) reaches beyond what a
// datagram of 65535 bytes can hold, ErrScratchShort if hdr is too short.
func Fragment(d Header, mtu int, hdr []byte, emit func(hdr, payload []byte) error) error {
	if len(hdr) < MaxHeaderLen {
		return ErrScratchShort
	}
	if mtu < MinMTU {
		return ErrMTU
	}
	hl := d.HeaderLen()
	hdr = hdr[:MaxHeaderLen]
	copy(hdr, d[:hl])
	if len(d) <= mtu {
		return emit(hdr[:hl], d[hl:])
	}
	if d.DF() {
		return ErrFragNeeded
	}
	payload := d[hl:]
	base := d.FragOffset()
	// The datagram reassembled from the pieces must fit a total length,
	// which also keeps every offset within its 13-bit field.
	if base+len(payload) > MaxDatagram-HeaderLen {
		return ErrTooBig
	}
	lastMF := d.FlagsOffset() & FlagMF
	// Flags of the datagram other than MF (DF is clear here; the
	// reserved bit, if a sender set it, travels on).
	keep := d.FlagsOffset() &^ (FlagMF | offMask)

	rest := false // the header of the later fragments is in hdr
	for off := 0; off < len(payload); {
		if off > 0 && !rest {
			// RFC 791 3.2: the second and later fragments carry only the
			// options whose copied flag is set.
			hl = copyOptions(hdr, d.Options())
			rest = true
		}
		n := len(payload) - off
		mf := lastMF
		if n > mtu-hl {
			n = (mtu - hl) &^ 7
			mf = FlagMF
		}
		hdr[0] = 0x40 | byte(hl/4)
		binary.BigEndian.PutUint16(hdr[2:4], uint16(hl+n))
		binary.BigEndian.PutUint16(hdr[6:8], keep|mf|uint16((base+off)/8))
		Header(hdr[:hl]).SetChecksum()
		if err := emit(hdr[:hl], payload[off:off+n]); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// copyOptions writes into hdr[HeaderLen:] the options of opts whose
// copied flag is set, pads them with end-of-option-list to a multiple of
// four bytes, and returns the header length. A malformed option (a length
// below 2 or beyond the options) ends the copying: what follows it cannot
// be told apart.
func copyOptions(hdr, opts []byte) int {
	n := HeaderLen
	for i := 0; i < len(opts); {
		t := opts[i]
		if t == OptEOL {
			break
		}
		if t == OptNOP {
			i++
			continue
		}
		if i+1 >= len(opts) {
			break
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			break
		}
		if t&optCopied != 0 {
			n += copy(hdr[n:], opts[i:i+l])
		}
		i += l
	}
	for n%4 != 0 {
		hdr[n] = OptEOL
		n++
	}
	return n
}
