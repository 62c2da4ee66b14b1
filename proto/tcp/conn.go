package tcp

import (
	"errors"
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
	// EPIPE for a Write after the reset was reported once).
	ErrReset = errors.New("tcp: connection reset by peer")
	// ErrTimedOut: retransmissions, keepalive probes or the user timeout
	// ran out (ETIMEDOUT), unless a soft error from ICMP was recorded, in
	// which case that error is reported instead, as Linux does.
	ErrTimedOut = errors.New("tcp: connection timed out")
	// ErrClosedWrite: Write after CloseWrite or Close (EPIPE).
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
type Conn struct {
	// The machine's state: see conn_*.go.
	_ struct{}
}

// NewConn returns a connection in CLOSED that sends through out.
func NewConn(cfg *Config, out Emitter) *Conn { panic("TODO") }

// Open starts an active open: sends a SYN and enters SYN-SENT.
func (c *Conn) Open(now time.Time) Events { panic("TODO") }

// AcceptSYN starts a passive open from syn, a SYN that reached a listener:
// records the peer's options, sends the SYN-ACK and enters SYN-RECEIVED.
func (c *Conn) AcceptSYN(syn *Segment, now time.Time) Events { panic("TODO") }

// AcceptCookie makes the connection ESTABLISHED from ack, the ACK that
// returned a valid SYN cookie, with what the cookie kept of the SYN, and
// then processes the rest of ack (its data, FIN) as Input would.
func (c *Conn) AcceptCookie(p SynParams, ack *Segment, now time.Time) Events { panic("TODO") }

// Input processes one segment addressed to this connection (RFC 9293
// 3.10.7).
func (c *Conn) Input(seg *Segment, now time.Time) Events { panic("TODO") }

// Timer runs whatever timers are due at now: retransmission, delayed ACK,
// persist, keepalive, TIME-WAIT, SYN-RECEIVED and user timeout.
func (c *Conn) Timer(now time.Time) Events { panic("TODO") }

// Deadline is when Timer must next be called; zero when nothing is
// pending.
func (c *Conn) Deadline() time.Time { panic("TODO") }

// Write queues as much of p as the send buffer has room for and sends
// what the windows allow (Nagle's rule unless NoDelay). It returns how
// much it queued, and ErrClosedWrite after CloseWrite or Close, Err()
// after a failure, ErrNotConnected before the handshake completes.
func (c *Conn) Write(p []byte, now time.Time) (int, error) { panic("TODO") }

// Read takes up to len(p) bytes of in-order data, and sends a window
// update if that opened the window enough (RFC 1122 4.2.3.3). It returns
// (0, nil) when nothing is there yet, (0, io.EOF) after the peer's FIN
// once the data before it is read, and (0, Err()) after a failure.
func (c *Conn) Read(p []byte, now time.Time) (int, error) { panic("TODO") }

// CloseWrite queues a FIN after the data written (RFC 9293 3.10.4): the
// half-close of shutdown(SHUT_WR).
func (c *Conn) CloseWrite(now time.Time) Events { panic("TODO") }

// Close is the application's close(2): with unread data, or with linger
// zero, it aborts (sends RST, RFC 9293 3.10.4 and RFC 2525 2.17);
// otherwise it sends a FIN after the data written, and any data arriving
// afterwards is answered with RST (Linux). The Conn lives on through
// FIN-WAIT and TIME-WAIT until EvClosed.
func (c *Conn) Close(linger0 bool, now time.Time) Events { panic("TODO") }

// Abort sends a RST if synchronized and enters CLOSED at once (RFC 9293
// 3.10.5, ABORT).
func (c *Conn) Abort(now time.Time) Events { panic("TODO") }

// SoftError records an error from ICMP (RFC 1122 4.2.3.9, RFC 5461).
// hard is Linux's "fatal" class: in SYN-SENT and SYN-RECEIVED a hard error
// fails the connection with err; otherwise err is kept and reported
// instead of ErrTimedOut if the connection later times out.
func (c *Conn) SoftError(err error, hard bool, now time.Time) Events { panic("TODO") }

// PathMTU lowers the path MTU after an ICMP fragmentation-needed (RFC 1191
// 6.3) and retransmits what no longer fits.
func (c *Conn) PathMTU(mtu int, now time.Time) Events { panic("TODO") }

// State is the current RFC 9293 state.
func (c *Conn) State() State { panic("TODO") }

// Err is the error that failed the connection, or nil.
func (c *Conn) Err() error { panic("TODO") }

// Readable is how many bytes Read would return now.
func (c *Conn) Readable() int { panic("TODO") }

// Writable is how many bytes Write would queue now.
func (c *Conn) Writable() int { panic("TODO") }

// Info returns a snapshot of the connection.
func (c *Conn) Info() Info { panic("TODO") }

// SetNoDelay, SetKeepAlive, SetUserTimeout, SetSendBuffer and
// SetRecvBuffer change the Config's settings on a live connection as the
// socket options do on Linux. SetRecvBuffer turns autotuning off.
func (c *Conn) SetNoDelay(on bool, now time.Time) Events  { panic("TODO") }
func (c *Conn) SetKeepAlive(k KeepAlive, now time.Time)   { panic("TODO") }
func (c *Conn) SetUserTimeout(d time.Duration)            { panic("TODO") }
func (c *Conn) SetSendBuffer(n int, now time.Time) Events { panic("TODO") }
func (c *Conn) SetRecvBuffer(n int, now time.Time) Events { panic("TODO") }

// CloseRead is shutdown(SHUT_RD): from now on Read returns io.EOF once
// nothing is queued. As on Linux, data that arrives is still acknowledged
// and may still be read; nothing is sent.
func (c *Conn) CloseRead() { panic("TODO") }
