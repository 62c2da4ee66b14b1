package stacknet

import (
	"reflect"
	"sync/atomic"
	"unsafe"
)

// Stats are the stack's counters, in the manner of `netstat -s`: for each
// protocol what came in, what went out, and every drop by its reason. The
// names follow the SNMP MIBs that netstat reads (RFC 4293 for IP, RFC 4113
// for UDP, RFC 4022 for TCP, Linux's TcpExt for the rest of TCP) where
// one exists.
type Stats struct {
	Link LinkStats
	ARP  ARPStats
	IP   IPStats
	ICMP ICMPStats
	UDP  UDPStats
	TCP  TCPStats
}

// LinkStats count frames between the devices and the stack.
type LinkStats struct {
	InFrames, InBytes   uint64
	OutFrames, OutBytes uint64
	OutErrors           uint64 // a device refused a write

	// Frames dropped on input, by reason.
	InShort       uint64 // shorter than an Ethernet header
	InNotForUs    uint64 // unicast to another MAC, or a multicast group not joined
	InVLAN        uint64 // 802.1Q-tagged for a VLAN (the stack joins none)
	InUnknownType uint64 // an EtherType the stack does not speak (IPv6 among them)
	InLengthField uint64 // an 802.3 length in place of an EtherType
}

// ARPStats count ARP packets and the neighbour caches' work.
type ARPStats struct {
	InRequests, InReplies   uint64
	OutRequests, OutReplies uint64
	InErrors                uint64 // malformed or not IPv4 over Ethernet
	InNotForUs              uint64 // a request for an address that is not ours
	InBadSender             uint64 // a sender address of ours, broadcast or multicast
	Resolved                uint64 // neighbours resolved
	Failed                  uint64 // resolutions that got no answer
	QueueDrops              uint64 // packets dropped while waiting for an address
	Evictions               uint64 // entries evicted at the cache's bound
}

// IPStats follow RFC 4293's ipSystemStats, plus drops by reason.
type IPStats struct {
	InReceives      uint64
	InHdrErrors     uint64 // all header errors; the reasons below add up to it
	InAddrErrors    uint64 // not for us, and not forwarded
	InUnknownProtos uint64
	InDiscards      uint64
	InDelivers      uint64
	OutRequests     uint64
	OutDiscards     uint64
	OutNoRoutes     uint64
	ForwDatagrams   uint64
	ReasmReqds      uint64
	ReasmOKs        uint64
	ReasmFails      uint64
	ReasmTimeout    uint64
	ReasmOverlaps   uint64
	FragOKs         uint64
	FragFails       uint64
	FragCreates     uint64

	// Header errors by reason.
	InShort       uint64
	InBadVersion  uint64
	InBadHdrLen   uint64
	InBadTotalLen uint64
	InCsumErrors  uint64
	InTTLExceeded uint64 // TTL ran out while forwarding
	InBadSource   uint64 // a martian source: broadcast, multicast, or loopback from the wire
}

// ICMPStats follow RFC 4293's icmpStatsTable and icmpMsgStatsTable.
type ICMPStats struct {
	InMsgs, InErrors, InCsumErrors           uint64
	InEchos, InEchoReps                      uint64
	InDestUnreachs, InTimeExcds, InParmProbs uint64
	OutMsgs, OutErrors                       uint64
	OutEchos, OutEchoReps                    uint64
	OutDestUnreachs, OutTimeExcds            uint64
	OutRateLimited                           uint64 // errors not sent because of the rate limit
	InUnknownTypes                           uint64
	InErrorsDelivered                        uint64 // errors that reached the socket they concern
}

// UDPStats follow RFC 4113's udp group, as netstat -s prints it.
type UDPStats struct {
	InDatagrams  uint64
	NoPorts      uint64
	InErrors     uint64 // all input errors; the reasons below add up to it
	OutDatagrams uint64
	RcvbufErrors uint64 // dropped because the socket's receive buffer was full
	InCsumErrors uint64
	InBadLength  uint64
}

// TCPStats follow RFC 4022's tcp group and Linux's TcpExt counters, as
// netstat -s prints them.
type TCPStats struct {
	ActiveOpens  uint64 // connections Dial opened: CLOSED to SYN-SENT
	PassiveOpens uint64 // connections a listener completed
	AttemptFails uint64 // SYN-SENT or SYN-RECEIVED to CLOSED
	EstabResets  uint64 // ESTABLISHED or CLOSE-WAIT to CLOSED
	CurrEstab    uint64 // connections in ESTABLISHED or CLOSE-WAIT now (a gauge)
	InSegs       uint64 // segments received, errors excluded
	OutSegs      uint64 // segments sent, retransmissions and resets included
	RetransSegs  uint64 // segments retransmitted
	InErrs       uint64 // segments dropped as malformed; the reasons below add up to it
	OutRsts      uint64 // resets sent

	// Malformed segments by reason.
	InCsumErrors uint64 // a bad checksum
	InBadHeader  uint64 // shorter than a header, or a data offset beyond the segment
	InBadOptions uint64 // an option whose length cannot be right (RFC 9293 MUST-7)
	InNotUnicast uint64 // to a broadcast or multicast address

	InNoSocket        uint64 // for no connection or listener: answered with a reset
	ListenOverflows   uint64 // handshakes or SYNs dropped because an accept queue was full
	ListenDrops       uint64 // SYNs and handshakes a listener dropped, overflows included
	SyncookiesSent    uint64 // SYN-ACKs sent with a SYN cookie (the SYN queue was full)
	SyncookiesRecv    uint64 // ACKs with a valid SYN cookie: connections made from one
	SyncookiesFailed  uint64 // ACKs to a listener with an invalid SYN cookie
	InICMPOutOfWindow uint64 // ICMP errors quoting a sequence number not in flight (OutOfWindowIcmps)
}

// counters is the live form of Stats. Every field is only ever touched with
// sync/atomic, through add and snapshot, so Stats can be read at any time.
type counters Stats

// add increments the counter at p.
func add(p *uint64) { atomic.AddUint64(p, 1) }

// sub decrements the counter at p, a gauge.
func sub(p *uint64) { atomic.AddUint64(p, ^uint64(0)) }

// addN adds n to the counter at p.
func addN(p *uint64, n int) { atomic.AddUint64(p, uint64(n)) }

// snapshot reads every counter atomically. Stats holds structs of uint64
// and nothing else, so it can be walked as a flat array of words.
func (c *counters) snapshot() Stats {
	var out Stats
	n := int(unsafe.Sizeof(out) / 8)
	src := unsafe.Slice((*uint64)(unsafe.Pointer(c)), n)
	dst := unsafe.Slice((*uint64)(unsafe.Pointer(&out)), n)
	for i := range src {
		dst[i] = atomic.LoadUint64(&src[i])
	}
	return out
}

// statsAreWords is checked by a test: snapshot relies on it.
func statsAreWords() bool {
	var check func(t reflect.Type) bool
	check = func(t reflect.Type) bool {
		switch t.Kind() {
		case reflect.Uint64:
			return true
		case reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				if !check(t.Field(i).Type) {
					return false
				}
			}
			return true
		}
		return false
	}
	return check(reflect.TypeOf(Stats{}))
}
