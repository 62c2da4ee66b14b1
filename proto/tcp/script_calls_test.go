package tcp_test

// The calls of the script runner (script_test.go documents them): each
// acts on the Conn as a Linux socket call would and returns what the
// syscall would.

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stacknet/stacknet/proto/tcp"
	"github.com/stacknet/stacknet/proto/tcp/tcptest"
)

// errnoNames are the errno names the runner reports and accepts.
var errnoNames = map[syscall.Errno]string{
	syscall.EAGAIN:       "EAGAIN",
	syscall.EBADF:        "EBADF",
	syscall.ECONNABORTED: "ECONNABORTED",
	syscall.ECONNREFUSED: "ECONNREFUSED",
	syscall.ECONNRESET:   "ECONNRESET",
	syscall.EHOSTDOWN:    "EHOSTDOWN",
	syscall.EHOSTUNREACH: "EHOSTUNREACH",
	syscall.EINPROGRESS:  "EINPROGRESS",
	syscall.EINVAL:       "EINVAL",
	syscall.EMSGSIZE:     "EMSGSIZE",
	syscall.ENETUNREACH:  "ENETUNREACH",
	syscall.ENOPROTOOPT:  "ENOPROTOOPT",
	syscall.ENOTCONN:     "ENOTCONN",
	syscall.EPIPE:        "EPIPE",
	syscall.ETIMEDOUT:    "ETIMEDOUT",
}

// errnoOf is the errno a Linux socket reports for a Conn's error.
func errnoOf(err error) string {
	var en syscall.Errno
	switch {
	case errors.Is(err, tcp.ErrRefused):
		return "ECONNREFUSED"
	case errors.Is(err, tcp.ErrReset):
		return "ECONNRESET"
	case errors.Is(err, tcp.ErrTimedOut):
		return "ETIMEDOUT"
	case errors.Is(err, tcp.ErrClosedWrite):
		return "EPIPE"
	case errors.Is(err, tcp.ErrNotConnected):
		return "ENOTCONN"
	case errors.Is(err, tcp.ErrAborted):
		return "ECONNABORTED"
	case errors.As(err, &en):
		if n, ok := errnoNames[en]; ok {
			return n
		}
	}
	return fmt.Sprintf("unknown error %q", err)
}

// result is what a call returned: a value, or -1 and an errno.
type result struct {
	n     int
	errno string
}

func ok(n int) result          { return result{n: n} }
func fail(errno string) result { return result{n: -1, errno: errno} }

func (r result) String() string {
	if r.errno != "" {
		return "-1 " + r.errno
	}
	return strconv.Itoa(r.n)
}

// call runs a call step and compares its result with the script's.
func (r *runner) call(st *tcptest.Step) error {
	res, err := r.do(st.Call, st.Args)
	if err != nil {
		return err
	}
	want := result{n: st.Result, errno: st.Errno}
	if res != want {
		return fmt.Errorf("returned %s (state %s)", res, r.stateName())
	}
	return nil
}

func (r *runner) do(name string, args []string) (result, error) {
	now := r.at(r.now)
	if r.fdClosed && name != "nothing" && name != "tcp_info" && name != "pmtu" && name != "icmp_unreach" {
		return fail("EBADF"), nil
	}
	switch name {
	case "socket":
		return ok(3), nil
	case "bind":
		return ok(0), nil
	case "nothing":
		return ok(0), nil
	case "sysctl":
		return r.sysctl(args)
	case "setsockopt":
		return r.setsockopt(args, now)
	case "getsockopt":
		return r.getsockopt(args)
	case "syncookies":
		if len(args) != 1 || args[0] != "always" && args[0] != "never" {
			return result{}, errors.New("syncookies(always) or syncookies(never)")
		}
		r.cookies, r.cookieGen = nil, nil
		if args[0] == "always" {
			r.cookieGen = tcp.NewISNGen()
			r.cookies = tcp.NewSynCookiesFor(r.cookieGen)
		}
		return ok(0), nil
	case "connect":
		if r.conn != nil || r.listening {
			return fail("EISCONN"), nil
		}
		// The machine dials from an ephemeral port to the peer's 8080.
		r.cfg.Local = netip.AddrPortFrom(scriptServer.Addr(), scriptPeer.Port())
		r.cfg.Remote = netip.AddrPortFrom(scriptPeer.Addr(), scriptServer.Port())
		cfg := r.cfg
		r.newConn(&cfg)
		r.note(r.conn.Open(now))
		return fail("EINPROGRESS"), nil
	case "listen":
		r.listening = true
		return ok(0), nil
	case "accept":
		if !r.listening {
			return fail("EINVAL"), nil
		}
		if r.conn == nil || !r.established {
			return fail("EAGAIN"), nil
		}
		return ok(0), nil
	case "write":
		n, err := intArg(args, 0)
		if err != nil {
			return result{}, err
		}
		return r.write(n, now), nil
	case "read":
		n, err := intArg(args, 0)
		if err != nil {
			return result{}, err
		}
		return r.read(n, now)
	case "shutdown":
		return r.shutdown(args, now)
	case "close":
		r.fdClosed = true
		r.listening = false
		if r.conn != nil && !r.closed {
			r.note(r.conn.Close(r.linger0, now))
		}
		return ok(0), nil
	case "tcp_info":
		return r.tcpInfo(args)
	case "pmtu":
		mtu, err := intArg(args, 0)
		if err != nil {
			return result{}, err
		}
		if r.conn != nil && !r.closed {
			r.note(r.conn.PathMTU(mtu, now))
		}
		return ok(0), nil
	case "icmp_unreach":
		return r.icmpUnreach(args, now)
	}
	return result{}, fmt.Errorf("unknown call %q", name)
}

// connected reports whether there is a Conn that calls act on.
func (r *runner) connected() bool { return r.conn != nil }

// takeErr returns the Conn's error once, as sock_error does, and nil
// after it was returned or when there is none.
func (r *runner) takeErr() error {
	if r.errReported || r.conn == nil {
		return nil
	}
	if err := r.conn.Err(); err != nil {
		r.errReported = true
		return err
	}
	return nil
}

func (r *runner) write(n int, now time.Time) result {
	if !r.connected() {
		return fail("EPIPE") // Linux: sk_stream_wait_connect on CLOSE
	}
	if err := r.takeErr(); err != nil {
		return fail(errnoOf(err))
	}
	if st := r.conn.State(); st == tcp.SynSent || st == tcp.SynReceived {
		return fail("EAGAIN") // sk_stream_wait_connect, non-blocking
	}
	p := make([]byte, n)
	for i := range p {
		p[i] = sendPattern(r.written + uint32(i))
	}
	k, err := r.conn.Write(p, now)
	r.written += uint32(k)
	switch {
	case k > 0:
		return ok(k)
	case err == nil && n == 0:
		return ok(0)
	case err == nil:
		return fail("EAGAIN")
	case r.conn.Err() != nil && errors.Is(err, r.conn.Err()):
		// The error was already reported once: EPIPE from now on.
		return fail("EPIPE")
	}
	return fail(errnoOf(err))
}

func (r *runner) read(n int, now time.Time) (result, error) {
	if !r.connected() {
		return fail("ENOTCONN"), nil
	}
	p := make([]byte, n)
	k, err := r.conn.Read(p, now)
	if k > 0 {
		for i, b := range p[:k] {
			if want := recvPattern(r.readOff + uint32(i)); b != want {
				return result{}, fmt.Errorf("read octet at stream offset %d is %#x, the peer sent %#x", r.readOff+uint32(i), b, want)
			}
		}
		r.readOff += uint32(k)
		return ok(k), nil
	}
	switch {
	case err == nil && n == 0:
		return ok(0), nil
	case err == nil:
		if st := r.conn.State(); st == tcp.Closed && !r.established && r.conn.Err() == nil {
			return fail("ENOTCONN"), nil
		}
		return fail("EAGAIN"), nil
	case errors.Is(err, io.EOF):
		return ok(0), nil
	}
	if e := r.takeErr(); e != nil {
		return fail(errnoOf(e)), nil
	}
	if r.conn.Err() != nil {
		return ok(0), nil // the error was reported: EOF from now on
	}
	return fail(errnoOf(err)), nil
}

func (r *runner) shutdown(args []string, now time.Time) (result, error) {
	if len(args) != 1 {
		return result{}, errors.New("shutdown(SHUT_WR), shutdown(SHUT_RD) or shutdown(SHUT_RDWR)")
	}
	if r.conn == nil {
		return fail("ENOTCONN"), nil
	}
	switch args[0] {
	case "SHUT_RD":
		r.conn.CloseRead()
	case "SHUT_WR":
		r.note(r.conn.CloseWrite(now))
	case "SHUT_RDWR":
		r.conn.CloseRead()
		r.note(r.conn.CloseWrite(now))
	default:
		return result{}, fmt.Errorf("unknown shutdown how %q", args[0])
	}
	return ok(0), nil
}

func (r *runner) sysctl(args []string) (result, error) {
	if len(args) != 2 {
		return result{}, errors.New("sysctl(NAME, VALUE)")
	}
	v, err := strconv.Atoi(args[1])
	if err != nil {
		return result{}, fmt.Errorf("sysctl %s: %v", args[0], err)
	}
	c := &r.cfg
	switch strings.TrimPrefix(args[0], "net.ipv4.") {
	case "tcp_sack":
		c.NoSACK = v == 0
	case "tcp_timestamps":
		c.NoTimestamps = v == 0
	case "tcp_window_scaling":
		c.NoWScale = v == 0
	case "tcp_syn_retries":
		c.SynRetries = v
	case "tcp_synack_retries":
		c.SynAckRetries = v
	case "tcp_retries2":
		c.Retries2 = v
	default:
		return result{}, fmt.Errorf("unknown sysctl %q", args[0])
	}
	return ok(0), nil
}

func (r *runner) setsockopt(args []string, now time.Time) (result, error) {
	if len(args) < 3 {
		return result{}, errors.New("setsockopt(LEVEL, NAME, VALUE[, LEN])")
	}
	name, val := args[1], strings.Trim(args[2], "[]\"")
	if name == "SO_LINGER" {
		// {onoff=1, linger=0}
		on := strings.Contains(val, "onoff=1") || strings.Contains(val, "l_onoff=1")
		zero := strings.Contains(strings.ReplaceAll(val, " ", ""), "linger=0}")
		r.linger0 = on && zero
		return ok(0), nil
	}
	if name == "TCP_CONGESTION" {
		alg, found := tcp.ParseAlgorithm(val)
		if !found {
			return fail("ENOENT"), nil
		}
		r.cfg.Congestion = alg
		return ok(0), nil
	}
	v, err := strconv.Atoi(val)
	if err != nil {
		return result{}, fmt.Errorf("setsockopt %s: value %q: %v", name, args[2], err)
	}
	live := r.conn != nil && !r.closed
	c := &r.cfg
	switch name {
	case "SO_RCVBUF":
		c.RecvBuffer, c.RecvBufferMax = v, v
		if live {
			r.note(r.conn.SetRecvBuffer(v, now))
		}
	case "SO_SNDBUF":
		c.SendBuffer = v
		if live {
			r.note(r.conn.SetSendBuffer(v, now))
		}
	case "TCP_NODELAY":
		c.NoDelay = v != 0
		if live {
			r.note(r.conn.SetNoDelay(v != 0, now))
		}
	case "SO_KEEPALIVE", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT":
		k := &c.KeepAlive
		switch name {
		case "SO_KEEPALIVE":
			k.Enable = v != 0
		case "TCP_KEEPIDLE":
			k.Idle = time.Duration(v) * time.Second
		case "TCP_KEEPINTVL":
			k.Interval = time.Duration(v) * time.Second
		case "TCP_KEEPCNT":
			k.Count = v
		}
		if live {
			r.conn.SetKeepAlive(*k, now)
		}
	case "TCP_USER_TIMEOUT":
		c.UserTimeout = time.Duration(v) * time.Millisecond
		if live {
			r.conn.SetUserTimeout(c.UserTimeout)
		}
	case "SO_OOBINLINE", "SO_REUSEADDR":
		// Accepted: urgent data is always inline in the machine.
	default:
		return result{}, fmt.Errorf("unknown socket option %q", name)
	}
	return ok(0), nil
}

func (r *runner) getsockopt(args []string) (result, error) {
	if len(args) < 3 || args[1] != "SO_ERROR" {
		return result{}, errors.New("only getsockopt(SOL_SOCKET, SO_ERROR, [ERRNO], [4])")
	}
	want := strings.Trim(args[2], "[]")
	got := "0"
	if err := r.takeErr(); err != nil {
		got = errnoOf(err)
	}
	if got != want {
		return result{}, fmt.Errorf("SO_ERROR is %s (state %s)", got, r.stateName())
	}
	return ok(0), nil
}

// icmpUnreach is an ICMP destination unreachable for the connection, its
// code named by the errno Linux maps it to (icmp_err_convert), with its
// "fatal" flag as the hard argument.
func (r *runner) icmpUnreach(args []string, now time.Time) (result, error) {
	if len(args) != 1 {
		return result{}, errors.New("icmp_unreach(ERRNO)")
	}
	var (
		en   syscall.Errno
		hard bool
	)
	switch args[0] {
	case "ENETUNREACH": // net unreachable, code 0
		en = syscall.ENETUNREACH
	case "EHOSTUNREACH": // host unreachable, code 1
		en = syscall.EHOSTUNREACH
	case "ENOPROTOOPT": // protocol unreachable, code 2
		en, hard = syscall.ENOPROTOOPT, true
	case "ECONNREFUSED": // port unreachable, code 3
		en, hard = syscall.ECONNREFUSED, true
	default:
		return result{}, fmt.Errorf("icmp_unreach: unknown %q", args[0])
	}
	if r.conn != nil && !r.closed {
		r.note(r.conn.SoftError(en, hard, now))
	}
	return ok(0), nil
}

// linuxStates are Linux's names of the states (tcp_states.h).
var linuxStates = map[tcp.State]string{
	tcp.Closed: "CLOSE", tcp.Listen: "LISTEN", tcp.SynSent: "SYN_SENT", tcp.SynReceived: "SYN_RECV",
	tcp.Established: "ESTABLISHED", tcp.FinWait1: "FIN_WAIT1", tcp.FinWait2: "FIN_WAIT2",
	tcp.CloseWait: "CLOSE_WAIT", tcp.Closing: "CLOSING", tcp.LastAck: "LAST_ACK", tcp.TimeWait: "TIME_WAIT",
}

func (r *runner) stateName() string {
	if r.conn == nil {
		return "no connection"
	}
	return linuxStates[r.conn.State()]
}

// tcpInfo checks fields of Conn.Info.
func (r *runner) tcpInfo(args []string) (result, error) {
	if r.conn == nil {
		return result{}, errors.New("tcp_info: no connection")
	}
	in := r.conn.Info()
	b2i := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	ms := func(d time.Duration) int64 { return int64(d / time.Millisecond) }
	fields := map[string]int64{
		"snd_mss": int64(in.SndMSS), "rcv_mss": int64(in.RcvMSS),
		"snd_wscale": int64(in.SndWScale), "rcv_wscale": int64(in.RcvWScale),
		"sack": b2i(in.SACK), "timestamps": b2i(in.Timestamps),
		"cwnd": int64(in.CWND), "ssthresh": int64(in.Ssthresh),
		"srtt": ms(in.SRTT), "rttvar": ms(in.RTTVar), "rto": ms(in.RTO),
		"snd_una": int64(in.SndUna - r.iss), "snd_nxt": int64(in.SndNxt - r.iss),
		"rcv_nxt": int64(in.RcvNxt - scriptPeerISN),
		"snd_wnd": int64(in.SndWnd), "rcv_wnd": int64(in.RcvWnd),
		"retransmits": int64(in.Retransmits),
		"unacked":     int64(in.Unacked), "unsent": int64(in.Unsent),
		"readable": int64(in.Readable),
		"rcv_buf":  int64(in.RecvBuffer), "snd_buf": int64(in.SendBuffer),
	}
	var bad []string
	for _, a := range args {
		k, v, found := strings.Cut(a, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !found {
			return result{}, fmt.Errorf("tcp_info: %q is not FIELD=VALUE", a)
		}
		if k == "state" {
			if got := linuxStates[in.State]; got != v {
				bad = append(bad, "state="+got)
			}
			continue
		}
		got, known := fields[k]
		if !known {
			return result{}, fmt.Errorf("tcp_info: unknown field %q", k)
		}
		loS, hiS, isRange := strings.Cut(v, "..")
		lo, err1 := strconv.ParseInt(loS, 10, 64)
		hi := lo
		var err2 error
		if isRange {
			hi, err2 = strconv.ParseInt(hiS, 10, 64)
		}
		if err1 != nil || err2 != nil {
			return result{}, fmt.Errorf("tcp_info: %s: bad value %q", k, v)
		}
		if got < lo || got > hi {
			bad = append(bad, k+"="+strconv.FormatInt(got, 10))
		}
	}
	if len(bad) > 0 {
		return result{}, fmt.Errorf("tcp_info differs: %s", strings.Join(bad, ", "))
	}
	return ok(0), nil
}

// intArg is the i-th argument as an integer, "[N]" or "N".
func intArg(args []string, i int) (int, error) {
	if i >= len(args) {
		return 0, fmt.Errorf("missing argument %d", i+1)
	}
	n, err := strconv.Atoi(strings.Trim(args[i], "[]"))
	if err != nil {
		return 0, fmt.Errorf("argument %d: %v", i+1, err)
	}
	return n, nil
}
