package tcp

import (
	"errors"
	"math/bits"
	"net/netip"
	"time"
)

// State is a connection state (RFC 9293 3.3.2).
type State uint8

// The eleven states of RFC 9293 3.3.2. Listen is kept for completeness
// and for State.String; a Conn is never in it (listening is the caller's).
const (
	Closed State = iota
	Listen
	SynSent
	SynReceived
	Established
	FinWait1
	FinWait2
	CloseWait
	Closing
	LastAck
	TimeWait
)

// Errors a Conn reports through Err and from its user calls. The facade
// maps them to the errno that Linux returns.
var (
	// ErrRefused: a RST answered our SYN (ECONNREFUSED).
	ErrRefused = errors.New("tcp: connection refused")
	// ErrReset: a RST arrived on a synchronized connection (ECONNRESET;
	// EPIPE for a Write after the reset was reported once). In
	// CLOSE-WAIT a RST fails the connection with ErrClosedWrite instead
	// (EPIPE, as Linux's tcp_reset).
	ErrReset = errors.New("tcp: connection reset by peer")
	// ErrTimedOut: retransmissions, keepalive probes or the user timeout
	// ran out (ETIMEDOUT), unless a soft error from ICMP was recorded, in
	// which case that error is reported instead, as Linux does.
	ErrTimedOut = errors.New("tcp: connection timed out")
	// ErrClosedWrite: Write after CloseWrite or Close (EPIPE); also the
	// error of a connection reset in CLOSE-WAIT.
	ErrClosedWrite = errors.New("tcp: write after close")
	// ErrNotConnected: a call that needs a synchronized connection made
	// before or after one (ENOTCONN).
	ErrNotConnected = errors.New("tcp: not connected")
	// ErrAborted: our own Abort, or Close with unread data (no errno
	// reaches the user: the socket is gone).
	ErrAborted = errors.New("tcp: connection aborted")
)

// Events tell the facade what a call changed, so that it wakes only the
// waiters that can now proceed.
type Events uint8

const (
	// EvReadable: Read can now return something: data, EOF or an error.
	EvReadable Events = 1 << iota
	// EvWritable: Write can now make progress: send buffer space was
	// freed, or the connection failed or closed.
	EvWritable
	// EvEstablished: the handshake completed (SYN-SENT or SYN-RECEIVED
	// to ESTABLISHED, or onward when the peer's FIN came with it).
	EvEstablished
	// EvError: the connection failed; Err is set. Always with EvReadable
	// and EvWritable.
	EvError
	// EvClosed: the Conn reached CLOSED and will send nothing more; the
	// facade removes it from its tables. Deadline is zero from now on.
	EvClosed
)

// KeepAlive configures keepalive probes (RFC 9293 3.8.4, RFC 1122
// 4.2.3.6). Go's net package enables them on every TCP connection it
// dials or accepts with Idle 15 s, Interval 15 s and Count 9.
type KeepAlive struct {
	Enable   bool
	Idle     time.Duration // time idle before the first probe (TCP_KEEPIDLE)
	Interval time.Duration // between unanswered probes (TCP_KEEPINTVL)
	Count    int           // unanswered probes before ErrTimedOut (TCP_KEEPCNT)
}

// Config is what a connection is made with. Zero durations and counts mean
// Linux's defaults, given on each field.
type Config struct {
	Local, Remote netip.AddrPort

	// ISS is the initial send sequence number (ISNGen.ISN, RFC 6528).
	ISS Seq
	// TSEpoch and TSOffset make the TSvals this end sends:
	// milliseconds since TSEpoch plus TSOffset (ISNGen.TSEpoch and
	// ISNGen.TSOffset), so that a connection made from a SYN cookie goes
	// on with the TSvals its SYN-ACK started.
	TSEpoch  time.Time
	TSOffset uint32

	// MSS is the largest segment this end receives and sends: the route's
	// MTU less 40 octets of IPv4 and TCP headers. It is advertised in the
	// SYN or SYN-ACK; the sender uses min(MSS, peer's MSS) less the
	// options it carries.
	MSS int
	// MaxSegment, when larger than the MSS, lets one segment handed to
	// the Emitter carry up to MaxSegment octets of new data, which the
	// link cuts into MSS-sized segments (TCP segmentation offload, for a
	// device that does it): Fields.GSOSize then says where to cut. Such a
	// segment is a whole number of MSS-sized segments, or ends the data
	// queued, and the windows take it all. 0 means every segment is sent
	// as it is, as is every retransmission.
	MaxSegment int

	// SendBuffer is the most unacknowledged plus unsent data held
	// (SO_SNDBUF as the application sees it); 0 means 4 MiB, Linux's
	// tcp_wmem maximum reached by autotuning. Memory is taken as data is
	// written and given back as it is acknowledged.
	SendBuffer int
	// RecvBuffer is the initial receive buffer (0: 128 KiB, tcp_rmem[1]);
	// RecvBufferMax the most that autotuning grows it to (0: 6 MiB,
	// tcp_rmem[2]). A RecvBufferMax equal to RecvBuffer turns autotuning
	// off, as SO_RCVBUF does on Linux.
	RecvBuffer, RecvBufferMax int

	Congestion Algorithm // CUBIC unless NewReno
	NoDelay    bool      // TCP_NODELAY: no Nagle (Go sets it on every conn)
	KeepAlive  KeepAlive
	// UserTimeout (TCP_USER_TIMEOUT, RFC 5482): how long transmitted data
	// may stay unacknowledged before ErrTimedOut; 0 means the retry
	// counts decide.
	UserTimeout time.Duration

	// Features this end offers in its SYN or accepts in the peer's. All
	// on unless disabled, as on Linux.
	NoWScale, NoSACK, NoTimestamps bool

	DelayedAck    time.Duration // most an ACK is delayed: 40 ms
	TimeWait      time.Duration // TIME-WAIT: 2 MSL, 60 s
	SynRetries    int           // SYN retransmissions before giving up: 6
	SynAckRetries int           // SYN-ACK retransmissions: 5
	Retries2      int           // data retransmissions before giving up: 15
}

// Segment is an inbound segment, already parsed and its checksum checked
// by the caller. Payload is only valid during the call it is passed to.
type Segment struct {
	Seq, Ack Seq
	Flags    Flags
	Window   uint16 // as on the wire, not yet scaled
	Urgent   uint16
	Options  Options
	Payload  []byte
}

// SegmentFrom parses a checked header into a Segment. It fails only if
// the options cannot be parsed (RFC 9293 MUST-7: the segment is dropped).
func SegmentFrom(h Header) (Segment, error) {
	o, err := ParseOptions(h.Options())
	if err != nil {
		return Segment{}, err
	}
	return Segment{
		Seq: h.Seq(), Ack: h.Ack(), Flags: h.Flags(), Window: h.Window(),
		Urgent: h.Urgent(), Options: o, Payload: h.Payload(),
	}, nil
}

// Len is SEG.LEN: the payload plus one for SYN and one for FIN.
func (s *Segment) Len() int {
	n := len(s.Payload)
	if s.Flags&SYN != 0 {
		n++
	}
	if s.Flags&FIN != 0 {
		n++
	}
	return n
}

// ResetFor returns the RST that answers seg when no connection matches it
// (RFC 9293 3.10.7.1, CLOSED): none for a RST; <SEQ=SEG.ACK><CTL=RST> for
// a segment with ACK; else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. The
// ports are the caller's to fill in.
func ResetFor(seg *Segment) (Fields, bool) {
	if seg.Flags&RST != 0 {
		return Fields{}, false
	}
	if seg.Flags&ACK != 0 {
		return Fields{Seq: seg.Ack, Flags: RST}, true
	}
	return Fields{Ack: seg.Seq.Add(seg.Len()), Flags: RST | ACK}, true
}

// Emitter sends the segments a Conn makes. Emit is called synchronously
// from inside the Conn's methods; it must not call back into the Conn.
// The segment is the header f (ports filled in) with the options o and
// the payload p1 followed by p2 (the send buffer is a ring, so the data
// may come in two pieces; either may be empty). None of them may be kept
// after Emit returns.
type Emitter interface {
	Emit(f *Fields, o *Options, p1, p2 []byte)
}

// Info is a snapshot of a connection, in the manner of Linux's TCP_INFO,
// for tests, stats and the trace.
type Info struct {
	State                  State
	SndMSS, RcvMSS         int
	SndWScale, RcvWScale   int // -1 when window scaling is not in use
	SACK, Timestamps       bool
	CWND, Ssthresh         int
	SRTT, RTTVar, RTO      time.Duration
	SndUna, SndNxt         Seq
	RcvNxt                 Seq
	SndWnd, RcvWnd         int
	Retransmits            uint64 // segments retransmitted, over the life of the Conn
	Unacked, Unsent        int    // bytes
	Readable               int    // bytes Read would return now
	RecvBuffer, SendBuffer int    // current capacities
}

// Conn is one TCP connection's state machine (RFC 9293 3.10), pure: every
// method takes the current time, nothing inside blocks, reads a clock,
// starts a goroutine or arms a timer. The caller serialises calls (one
// mutex per Conn), delivers segments to Input, calls Timer when Deadline
// passes, and acts on the Events returned. A Conn allocates nothing per
// segment in steady state.
//
// Errors, EOF and the user calls, as on Linux:
//
//   - Read returns the data queued first, even after a failure. Once none
//     is left: io.EOF, every time, if the peer's FIN was received, even
//     when the connection failed afterwards (Linux's SOCK_DONE comes
//     first in tcp_recvmsg), and the error is then left for Write;
//     otherwise the error that failed the connection (ErrReset,
//     ErrRefused, ErrTimedOut or a soft error from ICMP, ErrAborted after
//     Abort) is returned once, by whichever of Read or Write comes first
//     (Linux's sock_error clears sk_err), and after that Read returns
//     io.EOF, every time. After CloseRead, Read returns io.EOF once the
//     data is read. A Conn that reached CLOSED without an error (a
//     passive open reset in SYN-RECEIVED, or the normal end of a close)
//     also reads io.EOF.
//   - A RST is ErrReset in every synchronized state but CLOSE-WAIT, where
//     it is ErrClosedWrite (EPIPE, Linux's tcp_reset), and in TIME-WAIT,
//     where it is ignored (RFC 1337). So after the peer's FIN and a RST:
//     Read io.EOF; Write ErrClosedWrite in CLOSE-WAIT, and ErrReset once
//     then ErrClosedWrite in CLOSING and LAST-ACK.
//   - Write returns ErrNotConnected in SYN-SENT and SYN-RECEIVED;
//     ErrClosedWrite (EPIPE) after CloseWrite or Close; after a failure,
//     the error if it was not reported yet (then counted as reported),
//     else ErrClosedWrite (EPIPE); ErrClosedWrite in CLOSED.
//   - Err always returns the error that failed the connection; reporting
//     it through Read or Write does not clear it.
type Conn struct {
	cfg Config
	out Emitter

	state       State
	err         error // what failed the connection
	errReported bool  // err was returned by Read or Write once
	softErr     error // the last soft error from ICMP (RFC 1122 4.2.3.9)

	passive     bool // opened by AcceptSYN or AcceptCookie
	readClosed  bool // CloseRead or Close: Read returns io.EOF once empty
	writeClosed bool // CloseWrite or Close: a FIN follows the data
	orphan      bool // Close: the application is gone
	finRcvd     bool // the peer's FIN was reached and processed

	// Send sequence variables (RFC 9293 3.3.1). sndMax is the highest
	// SND.NXT reached: after a retransmission timeout SND.NXT goes back to
	// SND.UNA and climbs again (go-back-N), so acceptable ACKs reach
	// sndMax.
	iss, sndUna, sndNxt, sndMax Seq
	sndWnd, maxSndWnd           int // scaled; the largest window offered
	sndWl1, sndWl2              Seq
	sq                          sendQueue // the data from sqSeq on
	sqSeq                       Seq       // the sequence number of sq's first octet
	sndSml                      Seq       // end of the last segment shorter than the MSS sent (Minshall's Nagle)

	// Receive sequence variables: RCV.NXT is rq.RcvNxt().
	irs     Seq
	rq      RecvQueue
	rcvAdv  Seq // the right edge of the window last advertised
	lastAck Seq // the acknowledgment number last sent (Last.ACK.sent, RFC 7323 4.3)
	rcvMSS  int // the largest segment seen from the peer, for delayed ACK (Linux's rcv_mss)

	// Options (RFC 9293 3.2, RFC 7323, RFC 2018).
	peerMSS, sndMSS        int   // the peer's MSS option (536 by default); the effective send MSS
	sndWScale, rcvWScale   uint8 // shift counts for the windows we get and give
	wscaleOK, sackOK, tsOK bool  // negotiated
	offerWScale            uint8 // what our SYN or SYN-ACK offered
	tsRecent               uint32
	tsRecentAt             time.Time
	oowAt                  time.Time // the last ACK to an out-of-window segment or challenge ACK (RFC 5961 7)
	ackPending, ackNow     bool      // an ACK is owed; it must go now
	quickAcks              int       // segments still acknowledged at once after the handshake (Linux quickack)
	quickStarted           bool
	dackAt                 time.Time // the delayed ACK is due
	synRetransmitted       bool      // the SYN or SYN-ACK was retransmitted

	// Retransmission (RFC 6298) and probes.
	rto         RTO
	rtxAt       time.Time // RTO, SYN retransmission or persist timer
	rtxArmedAt  time.Time
	persist     bool // rtxAt is the persist timer
	retries     int  // consecutive expirations of the retransmission timer
	persistN    int  // persist backoff
	probes      int  // keepalive or zero-window probes unanswered
	probeStart  time.Time
	firstRtxAt  time.Time // when the oldest unacknowledged data was first sent, once retransmitted (Linux's retrans_stamp)
	rttTiming   bool      // Karn: timing the segment ending at rttSeq, sent at rttAt
	rttSeq      Seq
	rttAt       time.Time
	lastSendAt  time.Time // new data last sent, for restart after idle
	lastRecvAt  time.Time // an acceptable segment last arrived, for keepalive
	kaAt        time.Time // keepalive timer
	closeAt     time.Time // TIME-WAIT or orphan FIN-WAIT-2 timer
	reclaimAt   time.Time // give idle buffers back
	bufUsedAt   time.Time // the buffers last held data
	retransmits uint64

	// Congestion control and loss recovery (RFC 5681, RFC 6582, RFC 6675).
	cc         CongestionControl
	sb         *Scoreboard // nil until the first SACK block, and again when idle
	dupAcks    int
	maxOut     int // the largest flight of the round (Linux's max_packets_out)
	maxOutSeq  Seq // the round ends when SND.UNA reaches it
	inRecovery bool
	recover    Seq // RFC 6582 "recover"
	highRxt    Seq // RFC 6675 HighRxt + 1

	// Receive buffer auto-tuning (Linux's dynamic right-sizing).
	autotune   bool
	rcvSpaceAt time.Time
	rcvCopied  int
	rcvRTT     time.Duration // the receiver's RTT estimate, from echoed timestamps (Linux's rcv_rtt_est)

	// The segment being emitted, kept here so that nothing escapes.
	f Fields
	o Options
}

// Linux's defaults, for the zero fields of Config.
const (
	defaultMSS           = 1460
	defaultPeerMSS       = 536 // RFC 9293 3.7.1: IPv4 default
	defaultSendBuffer    = 4 << 20
	defaultRecvBuffer    = 128 << 10
	defaultRecvBufferMax = 6 << 20
	defaultDelayedAck    = 40 * time.Millisecond
	defaultTimeWait      = 60 * time.Second
	defaultSynRetries    = 6
	defaultSynAckRetries = 5
	defaultRetries2      = 15
	defaultKeepIdle      = 2 * time.Hour
	defaultKeepIntvl     = 75 * time.Second
	defaultKeepCnt       = 9
	finTimeout           = 60 * time.Second // tcp_fin_timeout: orphan FIN-WAIT-2
	tsRecentMaxAge       = 24 * 24 * time.Hour
	pawsWindow           = 1                      // TSval ticks older than TS.Recent still taken (Linux's TCP_PAWS_WINDOW)
	oowRateLimit         = 500 * time.Millisecond // tcp_invalid_ratelimit
	reclaimDelay         = time.Second
	minSndMSS            = 48 // tcp_min_snd_mss
	tsOptLen             = 12
	synTimeoutFallback   = 3 * time.Second // RFC 6298 5.7
	quickAckSegments     = 16
)

// NewConn returns a connection in CLOSED that sends through out.
func NewConn(cfg *Config, out Emitter) *Conn {
	c := &Conn{cfg: *cfg, out: out}
	d := &c.cfg
	if d.MSS <= 0 {
		d.MSS = defaultMSS
	}
	d.MSS = min(d.MSS, MaxSegment-HeaderLen)
	if d.SendBuffer <= 0 {
		d.SendBuffer = defaultSendBuffer
	}
	if d.RecvBuffer <= 0 {
		d.RecvBuffer = defaultRecvBuffer
	}
	if d.RecvBufferMax <= 0 {
		d.RecvBufferMax = defaultRecvBufferMax
	}
	d.RecvBuffer = min(d.RecvBuffer, MaxRecvCapacity)
	d.RecvBufferMax = min(max(d.RecvBufferMax, d.RecvBuffer), MaxRecvCapacity)
	if d.DelayedAck <= 0 {
		d.DelayedAck = defaultDelayedAck
	}
	if d.TimeWait <= 0 {
		d.TimeWait = defaultTimeWait
	}
	if d.SynRetries <= 0 {
		d.SynRetries = defaultSynRetries
	}
	if d.SynAckRetries <= 0 {
		d.SynAckRetries = defaultSynAckRetries
	}
	if d.Retries2 <= 0 {
		d.Retries2 = defaultRetries2
	}
	d.KeepAlive = keepAliveDefaults(d.KeepAlive)
	c.autotune = d.RecvBufferMax > d.RecvBuffer
	c.sq.limit = d.SendBuffer
	c.peerMSS = defaultPeerMSS
	c.sndMSS = min(d.MSS, defaultPeerMSS)
	c.rcvMSS = c.sndMSS
	c.cc = NewCongestionControl(d.Congestion)
	c.iss = d.ISS
	c.sndUna, c.sndNxt, c.sndMax, c.sqSeq = d.ISS, d.ISS, d.ISS, d.ISS.Add(1)
	c.recover, c.highRxt, c.sndSml = d.ISS, d.ISS, d.ISS
	// RFC 7323 2.3: the shift that lets the largest receive buffer be
	// offered: ilog2(RecvBufferMax) - 15, as Linux, within [0, 14].
	if !d.NoWScale {
		c.offerWScale = WScaleFor(d.RecvBufferMax)
	}
	c.rq.reset(d.RecvBuffer, 0)
	return c
}

func keepAliveDefaults(k KeepAlive) KeepAlive {
	if k.Idle <= 0 {
		k.Idle = defaultKeepIdle
	}
	if k.Interval <= 0 {
		k.Interval = defaultKeepIntvl
	}
	if k.Count <= 0 {
		k.Count = defaultKeepCnt
	}
	return k
}

// State is the current RFC 9293 state.
func (c *Conn) State() State { return c.state }

// Err is the error that failed the connection, or nil.
func (c *Conn) Err() error { return c.err }

// Readable is how many bytes Read would return now.
func (c *Conn) Readable() int { return c.rq.Readable() }

// Writable is how many bytes Write would queue now: the free space of the
// send buffer while writing is possible, else 0.
func (c *Conn) Writable() int {
	if c.writeClosed || c.err != nil || !c.synchronized() {
		return 0
	}
	return c.sq.Free()
}

// synchronized reports whether the state is one of RFC 9293's
// synchronized states, SYN-RECEIVED excepted: a SYN was exchanged each way
// and acknowledged.
func (c *Conn) synchronized() bool {
	switch c.state {
	case Established, FinWait1, FinWait2, CloseWait, Closing, LastAck, TimeWait:
		return true
	}
	return false
}

// Sent reports SND.UNA and the highest sequence number sent plus one
// (SND.MAX: a retransmission timeout moves SND.NXT back, not this), the
// range an ICMP error must quote to be believed (RFC 5927 4.1).
func (c *Conn) Sent() (una, max Seq) { return c.sndUna, c.sndMax }

// Retransmits is the number of segments retransmitted over the life of
// the connection, as Info reports it, without the rest of the snapshot.
func (c *Conn) Retransmits() uint64 { return c.retransmits }

// Info returns a snapshot of the connection.
func (c *Conn) Info() Info {
	i := Info{
		State:       c.state,
		SndMSS:      c.sndMSS,
		RcvMSS:      c.rcvMSS,
		SndWScale:   -1,
		RcvWScale:   -1,
		SACK:        c.sackOK,
		Timestamps:  c.tsOK,
		CWND:        c.cc.CWND(),
		Ssthresh:    c.cc.Ssthresh(),
		SRTT:        c.rto.SRTT(),
		RTTVar:      c.rto.RTTVar(),
		RTO:         c.rto.Timeout(),
		SndUna:      c.sndUna,
		SndNxt:      c.sndNxt,
		RcvNxt:      c.rq.RcvNxt(),
		SndWnd:      c.sndWnd,
		RcvWnd:      max(int(c.rcvAdv.Diff(c.rq.RcvNxt())), 0),
		Retransmits: c.retransmits,
		Unacked:     max(int(c.sndMax.Diff(c.sqSeq)), 0),
		Readable:    c.rq.Readable(),
		RecvBuffer:  c.rq.Capacity(),
		SendBuffer:  c.sq.limit,
	}
	i.Unacked = min(i.Unacked, c.sq.Len())
	i.Unsent = c.sq.Len() - i.Unacked
	if c.wscaleOK {
		i.SndWScale, i.RcvWScale = int(c.sndWScale), int(c.rcvWScale)
	}
	return i
}

// Deadline is when Timer must next be called; zero when nothing is
// pending.
func (c *Conn) Deadline() time.Time {
	if c.state == Closed {
		return time.Time{}
	}
	d := c.rtxAt
	for _, t := range [...]time.Time{c.dackAt, c.kaAt, c.closeAt, c.reclaimAt} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// WScaleFor is the window scale shift a connection offers when its receive
// buffer may grow to space octets (RFC 7323 2.3): Linux's rule in
// tcp_select_initial_window, ilog2(space) - 15 within [0, MaxWScale],
// which lets the whole buffer be advertised. A listener answering with a
// SYN cookie offers the same, so that the connection the cookie makes
// agrees with its SYN-ACK.
func WScaleFor(space int) uint8 {
	return uint8(min(max(bitLen(space)-1-15, 0), MaxWScale))
}

// bitLen is the number of bits needed to write n.
func bitLen(n int) int { return bits.Len(uint(n)) }
