package tcp_test

// The packetdrill-style script runner: TestScripts runs every script
// under testdata/scripts (in the language of package tcptest) against one
// Conn on a fake clock. The scripts are written as Linux 6.x behaves; see
// testdata/scripts/README.md for the conventions and KNOWN_FAILURES.md
// for the scripts the machine does not pass yet, which are skipped (run
// them anyway with -scripts.known).
//
// # What the runner does
//
// The runner keeps the script's clock, now, from 0. Before each step it
// calls Conn.Timer for every Deadline at or before the step's time, in
// order, and queues what the Conn emits with the time it was emitted.
//
//   - "<" builds the inbound segment: relative sequence numbers are made
//     absolute from the peer's ISN (scriptPeerISN), the ack number and
//     SACK edges from the machine's ISS; "TS val *" is the peer's clock
//     (scriptPeerTSBase plus the script's milliseconds) and "ecr *" the
//     TSval of the last segment the machine sent; a segment with the U
//     flag has its urgent pointer at the end of its payload. The payload
//     is a pattern of the stream offset, so read() can check what it gets.
//     The segment goes to the Conn (Input) if there is one and it has not
//     reached CLOSED; else to the listener after listen() (see below); else
//     the closed port answers as RFC 9293 3.10.7.1 says (ResetFor).
//   - ">" takes the oldest segment emitted and not yet matched (running
//     timers up to the end of the step's time window if there is none),
//     checks that it was sent within the window, and matches it with
//     tcptest.Match. The payload must be the pattern write() wrote at
//     those stream offsets. A segment sent too early or too late, a
//     different segment, or a segment nobody expected (still queued when
//     an inbound step or a call comes, or at the end of the script) fails
//     the script, naming the line, what was expected and what came
//     (tcptest.FormatActual).
//   - A call acts as the application through a Linux socket would; the
//     result (and errno) must be what the script says.
//
// # The listener
//
// After listen(), a SYN with no Conn goes to AcceptSYN on a new Conn
// (RFC 9293 3.10.7.2); an ACK with no Conn is answered with
// <SEQ=SEG.ACK><CTL=RST>, a RST is dropped. With syncookies(always) the
// listener keeps no state for a SYN: it answers with a SYN-ACK whose ISS
// and TSval are a cookie (SynCookies.Make), made by a throw-away Conn
// whose ISS and TS clock are set to them, and without window scale and
// SACK when the SYN had no timestamps (Linux's tcp_clear_options); an
// ACK whose cookie checks (SynCookies.Check) makes a Conn through
// AcceptCookie, any other ACK is answered with a RST, as Linux does.
//
// # Calls
//
// Arguments are as written in the call; "[N]" and "N" are alike.
//
//	socket(...) = 3                      no-op (packetdrill scripts start so)
//	bind(...) = 0                        no-op
//	sysctl(NAME, V) = 0                  before connect/listen: tcp_sack,
//	                                     tcp_timestamps, tcp_window_scaling
//	                                     (0 or 1), tcp_syn_retries,
//	                                     tcp_synack_retries, tcp_retries2
//	setsockopt(LEVEL, NAME, V[, len]) = 0
//	                                     SO_RCVBUF, SO_SNDBUF [bytes],
//	                                     TCP_NODELAY, SO_KEEPALIVE [0/1],
//	                                     TCP_KEEPIDLE, TCP_KEEPINTVL [s],
//	                                     TCP_KEEPCNT [n], TCP_USER_TIMEOUT
//	                                     [ms], SO_LINGER {onoff=1, linger=0},
//	                                     TCP_CONGESTION "reno"|"cubic",
//	                                     SO_OOBINLINE [1] (accepted; the
//	                                     machine keeps urgent data inline)
//	getsockopt(SOL_SOCKET, SO_ERROR, [E], [4]) = 0
//	                                     the pending error, E an errno name
//	                                     or 0; reading it clears it (Linux)
//	syncookies(always|never) = 0         the listener's SYN cookies
//	connect() = -1 EINPROGRESS           NewConn and Open (non-blocking)
//	listen() = 0
//	accept() = 0                         0 once the Conn has been
//	                                     established, else -1 EAGAIN
//	write(N) = N                         Conn.Write of N pattern bytes; -1
//	                                     EAGAIN when none fit
//	read(N) = K                          Conn.Read; -1 EAGAIN when nothing
//	                                     is there, 0 at EOF
//	shutdown(SHUT_WR|SHUT_RD|SHUT_RDWR) = 0
//	close() = 0                          Conn.Close (linger 0 after SO_LINGER)
//	tcp_info(FIELD=V, ...) = 0           checks Conn.Info: V a number, a
//	                                     range LO..HI, or a state name
//	nothing() = 0                        nothing but the clock moves: a
//	                                     check that nothing was sent before
//	pmtu(MTU) = 0                        an ICMP fragmentation-needed with
//	                                     next-hop MTU MTU (Conn.PathMTU)
//	icmp_unreach(EHOSTUNREACH|ENETUNREACH|ECONNREFUSED|EPROTO...) = 0
//	                                     an ICMP destination unreachable,
//	                                     hard or soft as Linux's
//	                                     icmp_err_convert (Conn.SoftError)
//
// tcp_info fields, all from Info: state (SYN_SENT, SYN_RECV, ESTABLISHED,
// FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT, CLOSE),
// snd_mss, rcv_mss, snd_wscale, rcv_wscale (-1: none), sack, timestamps
// (0 or 1), cwnd, ssthresh (bytes), srtt, rttvar, rto (milliseconds),
// snd_una, snd_nxt (relative to the machine's ISS), rcv_nxt (relative to
// the peer's), snd_wnd, rcv_wnd, unacked, unsent, readable, rcv_buf,
// snd_buf (bytes), retransmits (segments).
//
// Errors map to errnos as a Linux socket reports them: a failure
// (ErrRefused ECONNREFUSED, ErrReset ECONNRESET, ErrTimedOut ETIMEDOUT, or
// the errno a hard ICMP error gave) is reported once, by the first read,
// write or getsockopt(SO_ERROR) after it (sock_error); afterwards read
// returns 0 and write EPIPE. Write after shutdown(SHUT_WR) or close is
// EPIPE (ErrClosedWrite); write before the handshake completes is EAGAIN
// (sk_stream_wait_connect on a non-blocking socket); read on a socket
// never connected is ENOTCONN; any call after close() is EBADF.

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stacknet/stacknet/proto/tcp"
	"github.com/stacknet/stacknet/proto/tcp/tcptest"
)

var scriptsKnown = flag.Bool("scripts.known", false, "also run the scripts listed in testdata/scripts/KNOWN_FAILURES.md")

// The fixed parameters of every script run.
const (
	// scriptISS is the machine's initial sequence number, and
	// scriptPeerISN the peer's: chosen so that the machine's sequence
	// numbers wrap past 2^32 after 1296 octets and the peer's cross 2^31,
	// where a comparison that is not modular goes wrong.
	scriptISS     tcp.Seq = 4294966000
	scriptPeerISN tcp.Seq = 2147483000
	// scriptTSOffset is added to the machine's TS clock (ms since the
	// script's start), scriptPeerTSBase to the peer's for "TS val *".
	scriptTSOffset   uint32 = 1_000_000
	scriptPeerTSBase uint32 = 5_000
	// scriptMaxTimerRuns bounds the Timer calls in one step, so that a
	// Deadline that never moves fails the script instead of hanging it.
	scriptMaxTimerRuns = 100_000
)

var (
	scriptEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// The listener's address, and the peer's; for connect() the other
	// way round in ports: the machine dials from an ephemeral port.
	scriptServer = netip.MustParseAddrPort("192.0.2.1:8080")
	scriptPeer   = netip.MustParseAddrPort("192.0.2.2:40000")
)

func TestScripts(t *testing.T) {
	root := filepath.Join("testdata", "scripts")
	known, err := readKnownFailures(filepath.Join(root, "KNOWN_FAILURES.md"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".pkt") {
			paths = append(paths, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no scripts in", root)
	}
	for _, path := range paths {
		name := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if why, ok := known[name]; ok && !*scriptsKnown {
				t.Skip("known failure (KNOWN_FAILURES.md): " + why)
			}
			steps, err := tcptest.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := runScript(steps); err != nil {
				t.Fatalf("%s:%v", path, err)
			}
		})
	}
	// Every known failure must name a script that exists, so the list
	// does not rot.
	for name := range known {
		if !slices.Contains(paths, filepath.Join(root, filepath.FromSlash(name))) {
			t.Errorf("KNOWN_FAILURES.md lists %s, which is not a script", name)
		}
	}
}

// readKnownFailures reads KNOWN_FAILURES.md: each script is a "### path"
// heading (relative to testdata/scripts), and the line after it that
// starts "- diagnosis:" says why.
func readKnownFailures(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	known := map[string]string{}
	cur := ""
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if name, ok := strings.CutPrefix(line, "### "); ok {
			cur = strings.Trim(name, "` ")
			known[cur] = "no diagnosis given"
		} else if why, ok := strings.CutPrefix(line, "- diagnosis:"); ok && cur != "" {
			known[cur] = strings.TrimSpace(why)
		}
	}
	return known, nil
}

// emitted is a segment the machine (or the closed port) sent.
type emitted struct {
	at      time.Duration // when, on the script's clock
	h       tcp.Header
	seqBase tcp.Seq // the sender's ISN, to make its numbers relative
	fromApp bool    // sent by the Conn: its payload is the written stream
}

// runner runs one script.
type runner struct {
	now  time.Duration // the script's clock
	prev time.Duration // when the previous step happened
	line int           // the step being run, for a panic

	cfg     tcp.Config
	linger0 bool

	listening bool
	cookies   *tcp.SynCookies
	cookieGen *tcp.ISNGen

	conn        *tcp.Conn
	iss         tcp.Seq // the machine's ISN: the base of its sequence numbers
	established bool    // the Conn reported EvEstablished: accept() returns it
	closed      bool    // the Conn reported EvClosed: segments go past it
	errReported bool    // the Conn's error was returned once (sock_error)
	fdClosed    bool    // close() was called

	out       []emitted // sent, not yet matched
	lastTSVal uint32    // the TSval of the last segment sent, for "ecr *"

	written uint32 // stream offset of the next octet write() queues
	readOff uint32 // stream offset of the next octet read() returns
}

// sendPattern and recvPattern are the octets at a stream offset, in each
// direction: different, so that data echoed the wrong way shows.
func sendPattern(off uint32) byte { return byte(off%251) ^ 0x5a }
func recvPattern(off uint32) byte { return byte(off % 241) }

func newRunner() *runner {
	return &runner{
		iss: scriptISS,
		cfg: tcp.Config{
			Local: scriptServer, Remote: scriptPeer,
			ISS: scriptISS, TSEpoch: scriptEpoch, TSOffset: scriptTSOffset,
			MSS: 1460,
		},
	}
}

// runScript runs the steps and returns the first failure, which names
// its line.
func runScript(steps []tcptest.Step) (err error) {
	r := newRunner()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%d: the machine panicked: %v\n%s", r.line, p, debug.Stack())
		}
	}()
	for i := range steps {
		st := &steps[i]
		r.line = st.Line
		if err := r.step(st); err != nil {
			return fmt.Errorf("%d: %s: %v", st.Line, st, err)
		}
	}
	if len(r.out) > 0 {
		return fmt.Errorf("end of script: %s", r.unexpected())
	}
	return nil
}

// at is the absolute time of a moment on the script's clock.
func (r *runner) at(d time.Duration) time.Time { return scriptEpoch.Add(d) }

func (r *runner) step(st *tcptest.Step) error {
	lo, hi := st.Time.Window(r.prev)
	if st.Dir == tcptest.Out {
		return r.expect(st, lo, hi)
	}
	if lo < r.now {
		return fmt.Errorf("the step's time %s is before the current time %s", fmtDur(lo), fmtDur(r.now))
	}
	if err := r.advance(lo); err != nil {
		return err
	}
	if len(r.out) > 0 {
		return errors.New(r.unexpected())
	}
	r.prev = lo
	if st.Dir == tcptest.In {
		return r.inject(&st.Seg)
	}
	return r.call(st)
}

// unexpected describes the oldest segment sent that no step expected.
func (r *runner) unexpected() string {
	e := r.out[0]
	return fmt.Sprintf("unexpected segment sent at %s: %s (and %d more)",
		fmtDur(e.at), tcptest.FormatActual(e.h, e.seqBase, scriptPeerISN), len(r.out)-1)
}

// advance moves the clock to t, running every timer due at or before it.
func (r *runner) advance(t time.Duration) error {
	_, err := r.runTimers(t, false)
	if r.now < t {
		r.now = t
	}
	return err
}

// runTimers calls Conn.Timer for each Deadline at or before t, in order;
// with untilSent it stops after the first call that emitted something,
// and reports whether one did.
func (r *runner) runTimers(t time.Duration, untilSent bool) (bool, error) {
	for n := 0; r.conn != nil && !r.closed; n++ {
		d := r.conn.Deadline()
		if d.IsZero() {
			return false, nil
		}
		dd := d.Sub(scriptEpoch)
		if dd > t {
			return false, nil
		}
		if n >= scriptMaxTimerRuns {
			return false, fmt.Errorf("Deadline stays at %s after %d calls of Timer", fmtDur(dd), n)
		}
		if dd > r.now {
			r.now = dd
		}
		before := len(r.out)
		r.note(r.conn.Timer(r.at(r.now)))
		if untilSent && len(r.out) > before {
			return true, nil
		}
	}
	return false, nil
}

// expect is a ">" step: the oldest segment sent, within [lo, hi].
func (r *runner) expect(st *tcptest.Step, lo, hi time.Duration) error {
	if len(r.out) == 0 {
		if _, err := r.runTimers(hi, true); err != nil {
			return err
		}
	}
	if len(r.out) == 0 {
		// Nothing by hi: the clock stands at hi for the message.
		if r.now < hi && hi != math.MaxInt64 {
			r.now = hi
		}
		return fmt.Errorf("nothing sent between %s and %s (deadline %s)", fmtDur(lo), fmtDur(hi), r.deadline())
	}
	e := r.out[0]
	r.out = r.out[1:]
	got := tcptest.FormatActual(e.h, e.seqBase, scriptPeerISN)
	if e.at < lo || e.at > hi {
		return fmt.Errorf("sent at %s, expected between %s and %s: %s", fmtDur(e.at), fmtDur(lo), fmtDur(hi), got)
	}
	seg, err := tcptest.SegmentOf(e.h, e.seqBase, scriptPeerISN)
	if err != nil {
		return fmt.Errorf("malformed segment sent: %s: %v", got, err)
	}
	if err := st.Seg.Match(seg); err != nil {
		return fmt.Errorf("%v\n\tgot  %s", err, got)
	}
	if e.fromApp {
		if err := r.checkPayload(e); err != nil {
			return fmt.Errorf("%v: %s", err, got)
		}
	}
	r.prev = e.at
	return nil
}

// deadline formats the Conn's next deadline for a message.
func (r *runner) deadline() string {
	if r.conn == nil || r.closed {
		return "no connection"
	}
	d := r.conn.Deadline()
	if d.IsZero() {
		return "none"
	}
	return fmtDur(d.Sub(scriptEpoch))
}

// checkPayload checks that the payload of a segment the Conn sent is what
// write() wrote at its stream offsets. Octets before the stream (the
// garbage octet some stacks put in a probe) are not checked.
func (r *runner) checkPayload(e emitted) error {
	rel := e.h.Seq() - e.seqBase
	if e.h.Flags()&tcp.SYN != 0 {
		rel++
	}
	for i, b := range e.h.Payload() {
		off := uint32(rel.Add(i) - 1)
		if int32(off) < 0 {
			continue
		}
		if off >= r.written {
			return fmt.Errorf("payload octet at stream offset %d, beyond the %d written", off, r.written)
		}
		if b != sendPattern(off) {
			return fmt.Errorf("payload octet at stream offset %d is %#x, written %#x", off, b, sendPattern(off))
		}
	}
	return nil
}

// Emit implements Emitter for the Conn: the segment is queued for the
// ">" steps.
func (r *runner) Emit(f *tcp.Fields, o *tcp.Options, p1, p2 []byte) {
	r.emit(f, o, p1, p2, r.iss, true)
}

func (r *runner) emit(f *tcp.Fields, o *tcp.Options, p1, p2 []byte, seqBase tcp.Seq, fromApp bool) {
	hl := tcp.HeaderLen + tcp.OptionsLen(o)
	b := make([]byte, hl+len(p1)+len(p2))
	copy(b[hl+copy(b[hl:], p1):], p2)
	tcp.PutHeader(b, *f, o)
	h, err := tcp.Parse(b)
	if err != nil {
		panic(fmt.Sprintf("the machine emitted a segment that does not parse: %v", err))
	}
	if o != nil && o.TS {
		r.lastTSVal = o.TSVal
	}
	r.out = append(r.out, emitted{at: r.now, h: h, seqBase: seqBase, fromApp: fromApp})
}

// note records what the events returned by a Conn call say.
func (r *runner) note(ev tcp.Events) {
	if ev&tcp.EvEstablished != 0 {
		r.established = true
	}
	if ev&tcp.EvClosed != 0 {
		r.closed = true
	}
}

// inject is a "<" step.
func (r *runner) inject(s *tcptest.Segment) error {
	ts := scriptPeerTSBase + uint32(r.now/time.Millisecond)
	resolved := s.ResolveTS(ts, r.lastTSVal)
	opts, err := resolved.Options(r.iss)
	if err != nil {
		return err
	}
	seg := tcp.Segment{
		Seq:     scriptPeerISN + s.Seq,
		Flags:   s.Flags,
		Window:  s.Win,
		Options: opts,
	}
	if s.HasAck {
		seg.Ack = r.iss + s.Ack
	}
	if s.Len > 0 {
		seg.Payload = make([]byte, s.Len)
		rel := s.Seq
		if s.Flags&tcp.SYN != 0 {
			rel++
		}
		for i := range seg.Payload {
			seg.Payload[i] = recvPattern(uint32(rel.Add(i) - 1))
		}
	}
	if s.Flags&tcp.URG != 0 {
		// The urgent pointer at the end of the payload, as BSD and
		// Linux send it (RFC 6093 3.1: the octet after the urgent data).
		seg.Urgent = uint16(s.Len)
	}
	now := r.at(r.now)
	switch {
	case r.conn != nil && !r.closed:
		r.note(r.conn.Input(&seg, now))
	case r.listening && !r.fdClosed:
		return r.listen(&seg, now)
	default:
		r.portReset(&seg)
	}
	return nil
}

// portReset answers a segment that no connection or listener takes
// (RFC 9293 3.10.7.1). The RST's sequence number is the segment's ack, so
// it is relative to the machine's ISN, or 0 for a segment without ACK,
// written as 0.
func (r *runner) portReset(seg *tcp.Segment) {
	f, ok := tcp.ResetFor(seg)
	if !ok {
		return
	}
	f.SrcPort, f.DstPort = r.cfg.Local.Port(), r.cfg.Remote.Port()
	base := r.iss
	if seg.Flags&tcp.ACK == 0 {
		base = 0
	}
	r.emit(&f, nil, nil, nil, base, false)
}

// listen is the listener's share of RFC 9293 3.10.7.2 (LISTEN), and the
// SYN cookies of RFC 4987 3.6 as Linux does them.
func (r *runner) listen(seg *tcp.Segment, now time.Time) error {
	switch {
	case seg.Flags&tcp.RST != 0:
		return nil // "An incoming RST segment could not be valid ... ignored."
	case seg.Flags&tcp.ACK != 0 && seg.Flags&tcp.SYN == 0 && r.cookies != nil:
		p, ok := r.cookies.Check(r.cfg.Local, r.cfg.Remote, seg.Seq-1, seg.Ack-1, seg.Options.TSEcr, seg.Options.TS, now)
		if !ok {
			r.portReset(seg)
			return nil
		}
		cfg := r.cfg
		cfg.ISS = seg.Ack - 1
		cfg.TSEpoch, cfg.TSOffset = r.cookieGen.TSEpoch(), r.cookieGen.TSOffset(cfg.Local, cfg.Remote)
		r.newConn(&cfg)
		r.note(r.conn.AcceptCookie(p, seg, now))
	case seg.Flags&tcp.ACK != 0:
		r.portReset(seg) // "any acknowledgment is bad ... <SEQ=SEG.ACK><CTL=RST>"
	case seg.Flags&tcp.SYN != 0 && r.cookies != nil:
		return r.cookieSYN(seg, now)
	case seg.Flags&tcp.SYN != 0:
		cfg := r.cfg
		r.newConn(&cfg)
		r.note(r.conn.AcceptSYN(seg, now))
	}
	return nil
}

// newConn makes the script's Conn, replacing one that reached CLOSED.
func (r *runner) newConn(cfg *tcp.Config) {
	r.iss = cfg.ISS
	r.conn = tcp.NewConn(cfg, r)
	r.closed, r.established, r.errReported = false, false, false
}

// cookieSYN answers a SYN with a SYN cookie and keeps nothing.
func (r *runner) cookieSYN(seg *tcp.Segment, now time.Time) error {
	o := seg.Options
	p := tcp.SynParams{
		MSS:    536, // RFC 9293 3.7.1: the default for IPv4 without the option
		WScale: o.WScale, HasWScale: o.HasWScale,
		SACKPermitted: o.SACKPermitted, TS: o.TS,
		ECN: seg.Flags&(tcp.ECE|tcp.CWR) == tcp.ECE|tcp.CWR,
	}
	if o.HasMSS {
		p.MSS = o.MSS
	}
	iss, tsval, ok := r.cookies.Make(r.cfg.Local, r.cfg.Remote, seg.Seq, p, now)
	if !ok {
		return nil // an MSS below the table's smallest: dropped
	}
	syn := *seg
	if !o.TS {
		// Linux (tcp_conn_request): a cookie without timestamps keeps
		// only the MSS, so the SYN-ACK offers nothing else.
		syn.Options = tcp.Options{MSS: o.MSS, HasMSS: o.HasMSS}
	}
	cfg := r.cfg
	cfg.ISS, cfg.TSEpoch, cfg.TSOffset = iss, now, tsval
	r.iss = iss
	tcp.NewConn(&cfg, r).AcceptSYN(&syn, now) // its SYN-ACK is sent; the Conn is dropped
	return nil
}

func fmtDur(d time.Duration) string {
	if d == math.MaxInt64 {
		return "forever"
	}
	return fmt.Sprintf("%.6gs", d.Seconds())
}
