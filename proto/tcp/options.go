package tcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Option kinds (IANA "TCP Option Kind Numbers").
const (
	OptEOL           uint8 = 0  // End of Option List (RFC 9293 3.2)
	OptNOP           uint8 = 1  // No-Operation (RFC 9293 3.2)
	OptMSS           uint8 = 2  // Maximum Segment Size (RFC 9293 3.2)
	OptWScale        uint8 = 3  // Window Scale (RFC 7323 2.2)
	OptSACKPermitted uint8 = 4  // SACK-Permitted (RFC 2018 2)
	OptSACK          uint8 = 5  // SACK (RFC 2018 3)
	OptTimestamps    uint8 = 8  // Timestamps (RFC 7323 3.2)
	OptMD5           uint8 = 19 // MD5 Signature (RFC 2385): skipped
	OptAO            uint8 = 29 // Authentication Option (RFC 5925): skipped
	OptFastOpen      uint8 = 34 // Fast Open cookie (RFC 7413): skipped
)

// Option lengths, kind and length octets included.
const (
	lenMSS           = 4
	lenWScale        = 3
	lenSACKPermitted = 2
	lenTimestamps    = 10
	lenSACKBase      = 2
	lenSACKBlock     = 8
)

// MaxWScale is the largest window scale shift count (RFC 7323 2.3).
const MaxWScale = 14

// MaxSACKBlocks is the most SACK blocks an option can hold: 4 fill 34 of
// the 40 octets of option space (RFC 2018 3).
const MaxSACKBlocks = 4

// Errors returned by ParseOptions. RFC 9293 3.1 (MUST-7) requires a
// receiver to be prepared for an illegal option length and suggests
// resetting the connection; the caller decides.
var (
	// ErrOptionLength: the list cannot be walked, because an option's
	// length octet is missing, below 2, or runs past the option space.
	ErrOptionLength = errors.New("tcp: option length missing, below 2 or beyond the options")
	// ErrOptionSize: an option the package interprets has a length that
	// is wrong for its kind (an MSS option of 3 octets, a SACK option that
	// is not 2 + 8n octets with 1 <= n <= 4, ...).
	ErrOptionSize = errors.New("tcp: option length wrong for its kind")
)

// SACKBlock is one block of a SACK option (RFC 2018 3): data from Start up
// to, not including, End has been received.
type SACKBlock struct{ Start, End Seq }

// Options are the options of a segment that the package interprets. The
// zero value is no options. ParseOptions reports what is on the wire;
// whether an option counts in a given segment (MSS, Window Scale and
// SACK-Permitted only in a SYN: RFC 9293 3.2, RFC 7323 2.2, RFC 2018 2)
// is for the caller to decide. Options is comparable with ==; ParseOptions
// leaves the SACK blocks after NumSACK zero, and so should a caller that
// compares.
type Options struct {
	MSS    uint16 // Maximum Segment Size, when HasMSS
	HasMSS bool

	WScale    uint8 // Window Scale shift count, when HasWScale; at most MaxWScale
	HasWScale bool

	SACKPermitted bool

	TS    bool   // the Timestamps option is present
	TSVal uint32 // TS Value, when TS
	TSEcr uint32 // TS Echo Reply, when TS

	SACK    [MaxSACKBlocks]SACKBlock // the first NumSACK are the blocks
	NumSACK int
}

// ParseOptions reads an option list, the bytes of Header.Options. It walks
// every option by its length (RFC 9293 3.2: options other than EOL and NOP
// have a length octet counting the kind and length octets), interprets
// MSS, Window Scale, SACK-Permitted, SACK and Timestamps, and skips any
// other kind (MD5, TCP-AO, Fast Open, experiments) unread (RFC 9293 3.1,
// MUST-6: ignore an option not implemented, by its length). EOL ends the
// list; what follows it is padding and is not read. A later occurrence of
// a kind replaces an earlier one. A Window Scale shift above MaxWScale
// reads as MaxWScale (RFC 7323 2.3: "MUST use 14 instead of the specified
// value"). On error it returns the zero Options. It never allocates.
func ParseOptions(b []byte) (Options, error) {
	var o Options
	for i := 0; i < len(b); {
		kind := b[i]
		switch kind {
		case OptEOL:
			return o, nil
		case OptNOP:
			i++
			continue
		}
		if i+1 >= len(b) {
			return Options{}, ErrOptionLength
		}
		n := int(b[i+1])
		if n < 2 || n > len(b)-i {
			return Options{}, ErrOptionLength
		}
		v := b[i+2 : i+n]
		switch kind {
		case OptMSS:
			if n != lenMSS {
				return Options{}, ErrOptionSize
			}
			o.MSS, o.HasMSS = binary.BigEndian.Uint16(v), true
		case OptWScale:
			if n != lenWScale {
				return Options{}, ErrOptionSize
			}
			// RFC 7323 2.3: a shift count above 14 is used as 14.
			o.WScale, o.HasWScale = min(v[0], MaxWScale), true
		case OptSACKPermitted:
			if n != lenSACKPermitted {
				return Options{}, ErrOptionSize
			}
			o.SACKPermitted = true
		case OptSACK:
			// RFC 2018 3: length 8n + 2 for n blocks.
			k := (n - lenSACKBase) / lenSACKBlock
			if (n-lenSACKBase)%lenSACKBlock != 0 || k < 1 || k > MaxSACKBlocks {
				return Options{}, ErrOptionSize
			}
			o.SACK = [MaxSACKBlocks]SACKBlock{}
			for j := range k {
				w := v[j*lenSACKBlock:]
				o.SACK[j] = SACKBlock{Seq(binary.BigEndian.Uint32(w[0:4])), Seq(binary.BigEndian.Uint32(w[4:8]))}
			}
			o.NumSACK = k
		case OptTimestamps:
			if n != lenTimestamps {
				return Options{}, ErrOptionSize
			}
			o.TS = true
			o.TSVal = binary.BigEndian.Uint32(v[0:4])
			o.TSEcr = binary.BigEndian.Uint32(v[4:8])
		}
		i += n
	}
	return o, nil
}

// fixedLen is the length of the options other than SACK blocks, as
// PutOptions lays them out.
func fixedLen(o *Options) int {
	n := 0
	if o.HasMSS {
		n += 4
	}
	if o.TS {
		n += 12 // SACK-Permitted, if any, takes the place of the two NOPs
	} else if o.SACKPermitted {
		n += 4
	}
	if o.HasWScale {
		n += 4
	}
	return n
}

// sackBlocks is how many of the SACK blocks fit after used octets of
// other options.
func sackBlocks(o *Options, used int) int {
	k := min(max(o.NumSACK, 0), MaxSACKBlocks)
	if k == 0 {
		return 0
	}
	return min(k, (MaxOptionsLen-used-4)/lenSACKBlock)
}

// OptionsLen is the length PutOptions writes for o, a multiple of 4 and at
// most MaxOptionsLen; zero for a nil o. Size a header with it before
// building it: HeaderLen + OptionsLen(o).
func OptionsLen(o *Options) int {
	if o == nil {
		return 0
	}
	n := fixedLen(o)
	if k := sackBlocks(o, n); k > 0 {
		n += 4 + k*lenSACKBlock
	}
	return n
}

// PutOptions writes o at the start of b and returns the number of bytes
// written, OptionsLen(o). It lays the options out as Linux does, each
// aligned to 32 bits with NOPs so that no EOL or padding is needed:
//
//	MSS                     02 04 mm mm
//	SACK-Permitted and TS   04 02 08 0a vvvvvvvv eeeeeeee
//	TS alone                01 01 08 0a vvvvvvvv eeeeeeee
//	SACK-Permitted alone    01 01 04 02
//	Window Scale            01 03 03 ss
//	SACK                    01 01 05 ll ssssssss eeeeeeee ...
//
// A SYN thus carries MSS, SACK_PERM, TS, NOP, WS, and a data segment NOP,
// NOP, TS. Only as many SACK blocks as fit in the 40 octets of option
// space are written, the first ones (RFC 2018 4: the first block is the
// most recent, and the sender includes as many as fit). A WScale above
// MaxWScale is written as MaxWScale. b must hold OptionsLen(o) bytes. It
// never allocates.
func PutOptions(b []byte, o *Options) int {
	if o == nil {
		return 0
	}
	used := fixedLen(o)
	k := sackBlocks(o, used)
	total := used
	if k > 0 {
		total += 4 + k*lenSACKBlock
	}
	if total == 0 {
		return 0
	}
	_ = b[total-1]
	i := 0
	if o.HasMSS {
		b[i], b[i+1] = OptMSS, lenMSS
		binary.BigEndian.PutUint16(b[i+2:], o.MSS)
		i += 4
	}
	if o.TS {
		if o.SACKPermitted {
			b[i], b[i+1] = OptSACKPermitted, lenSACKPermitted
		} else {
			b[i], b[i+1] = OptNOP, OptNOP
		}
		b[i+2], b[i+3] = OptTimestamps, lenTimestamps
		binary.BigEndian.PutUint32(b[i+4:], o.TSVal)
		binary.BigEndian.PutUint32(b[i+8:], o.TSEcr)
		i += 12
	} else if o.SACKPermitted {
		b[i], b[i+1], b[i+2], b[i+3] = OptNOP, OptNOP, OptSACKPermitted, lenSACKPermitted
		i += 4
	}
	if o.HasWScale {
		b[i], b[i+1], b[i+2], b[i+3] = OptNOP, OptWScale, lenWScale, min(o.WScale, MaxWScale)
		i += 4
	}
	if k > 0 {
		b[i], b[i+1], b[i+2], b[i+3] = OptNOP, OptNOP, OptSACK, byte(lenSACKBase+k*lenSACKBlock)
		i += 4
		for _, s := range o.SACK[:k] {
			binary.BigEndian.PutUint32(b[i:], uint32(s.Start))
			binary.BigEndian.PutUint32(b[i+4:], uint32(s.End))
			i += lenSACKBlock
		}
	}
	return i
}

// AppendOptions appends o, laid out as PutOptions does, to b.
func AppendOptions(b []byte, o *Options) []byte {
	n := OptionsLen(o)
	b = slices.Grow(b, n)
	PutOptions(b[len(b):len(b)+n], o)
	return b[:len(b)+n]
}

// String formats the options as tcpdump prints them, in the order
// PutOptions writes them: "mss 1460,sackOK,TS val 1 ecr 0,wscale 7" or
// "none" for none.
func (o Options) String() string {
	var parts []string
	if o.HasMSS {
		parts = append(parts, fmt.Sprintf("mss %d", o.MSS))
	}
	if o.SACKPermitted {
		parts = append(parts, "sackOK")
	}
	if o.TS {
		parts = append(parts, fmt.Sprintf("TS val %d ecr %d", o.TSVal, o.TSEcr))
	}
	if o.HasWScale {
		parts = append(parts, fmt.Sprintf("wscale %d", o.WScale))
	}
	if k := min(max(o.NumSACK, 0), MaxSACKBlocks); k > 0 {
		var s strings.Builder
		fmt.Fprintf(&s, "sack %d ", k)
		for _, b := range o.SACK[:k] {
			fmt.Fprintf(&s, "{%d:%d}", b.Start, b.End)
		}
		parts = append(parts, s.String())
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}
