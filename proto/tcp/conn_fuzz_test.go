package tcp

import (
	"encoding/binary"
	"testing"
	"time"
)

// fuzzEmitter checks what a Conn sends as it sends it.
type fuzzEmitter struct {
	t      *testing.T
	c      *Conn
	n      int
	closed bool // the Conn reached CLOSED: nothing more may be sent
}

func (e *fuzzEmitter) Emit(f *Fields, o *Options, p1, p2 []byte) {
	e.n++
	if e.closed {
		e.t.Fatalf("segment %v sent after CLOSED", f.Flags)
	}
	if n := len(p1) + len(p2); n > e.c.sndMSS || n > 0 && f.Flags&SYN != 0 {
		e.t.Fatalf("segment of %d octets, MSS %d, flags %v", n, e.c.sndMSS, f.Flags)
	}
	if OptionsLen(o) > MaxOptionsLen {
		e.t.Fatalf("options %d octets", OptionsLen(o))
	}
}

// FuzzConn drives one Conn with arbitrary inbound segments and user
// calls, and checks that it never panics and that its invariants hold:
// SND.UNA =< SND.NXT =< SND.MAX, buffers within their bounds, no segment
// beyond the MSS, nothing sent after CLOSED and no Deadline then.
//
// The input is a list of 12-octet operations: op, then 11 octets of
// arguments. Sequence and acknowledgment numbers are given as offsets
// from RCV.NXT and SND.UNA, so that inputs reach the interesting
// cases.
func FuzzConn(f *testing.F) {
	op := func(kind byte, args ...byte) []byte {
		b := make([]byte, 12)
		b[0] = kind
		copy(b[1:], args)
		return b
	}
	cat := func(ops ...[]byte) []byte {
		var b []byte
		for _, o := range ops {
			b = append(b, o...)
		}
		return b
	}
	f.Add(cat(op(0), op(1, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 100)))
	f.Add(cat(op(0), op(2, 0, 40), op(1, 0x11, 0, 0, 0, 0, 0, 0, 0, 0x10, 0xff, 0), op(6, 0, 0, 0, 0, 10)))
	f.Add(cat(op(0), op(2, 0x10, 0), op(6, 1), op(6, 1), op(1, 0x04, 0, 0, 0, 0)))
	f.Add(cat(op(0), op(1, 0x10, 0, 0, 0, 5, 0, 0, 0, 0, 0xff, 200), op(3, 100), op(4), op(6, 0, 0, 0x10)))
	f.Add(cat(op(9), op(1, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0), op(2, 0xff, 0xff)))
	f.Fuzz(fuzzConn)
}

func fuzzConn(t *testing.T, in []byte) {
	{
		e := &fuzzEmitter{t: t}
		cfg := Config{Local: addrB, Remote: addrA, ISS: connISS, TSEpoch: t0, RecvBuffer: 8192, RecvBufferMax: 65536, SendBuffer: 16384}
		c := NewConn(&cfg, e)
		e.c = c
		now := t0
		buf := make([]byte, 4096)
		data := pattern(4096, 0)
		peerTS := uint32(100)
		for len(in) >= 12 {
			o := in[:12]
			in = in[12:]
			a := o[1:]
			u16 := func(i int) int { return int(binary.BigEndian.Uint16(a[i:])) }
			switch o[0] % 12 {
			case 0: // a SYN from the peer
				if c.State() == Closed && c.sndMax == c.iss {
					c.AcceptSYN(&Segment{Seq: peerISS, Flags: SYN, Window: 65535, Options: Options{
						MSS: uint16(u16(0)%2000 + 1), HasMSS: a[2]&1 != 0, SACKPermitted: a[2]&2 != 0,
						TS: a[2]&4 != 0, TSVal: peerTS, WScale: a[3], HasWScale: a[2]&8 != 0}}, now)
				}
			case 1, 7, 8: // an inbound segment
				seg := Segment{Flags: Flags(a[0]), Window: uint16(u16(8))}
				seg.Seq = c.rq.RcvNxt().Add(int(int16(u16(1))))
				seg.Ack = c.sndUna.Add(int(int16(u16(3))))
				if c.state == SynSent || c.state == Closed {
					seg.Seq = peerISS.Add(int(int16(u16(1))))
				}
				if a[5]&1 != 0 {
					peerTS += uint32(a[6])
					seg.Options.TS, seg.Options.TSVal, seg.Options.TSEcr = true, peerTS-uint32(a[5]>>4), c.tsVal(now)-uint32(a[7])
				}
				if a[5]&2 != 0 {
					seg.Options.NumSACK = 1 + int(a[5]>>6)
					for i := range seg.Options.NumSACK {
						st := c.sndUna.Add(int(a[7+i%3]) * 100)
						seg.Options.SACK[i] = SACKBlock{st, st.Add(int(a[6]) * 10)}
					}
				}
				seg.Payload = data[:int(a[10])*8]
				c.Input(&seg, now)
			case 2: // Write
				c.Write(data[:u16(0)%4096], now)
			case 3: // Read
				c.Read(buf[:int(a[0])*16], now)
			case 4:
				c.CloseWrite(now)
			case 5:
				c.Close(a[0]&1 != 0, now)
			case 6: // time passes, timers run
				now = now.Add(time.Duration(u16(0)) * time.Millisecond * time.Duration(1+a[2]%64))
				for range 64 {
					d := c.Deadline()
					if d.IsZero() || d.After(now) {
						break
					}
					c.Timer(d)
				}
			case 9:
				c.Open(now)
			case 10:
				switch a[0] % 6 {
				case 0:
					c.Abort(now)
				case 1:
					c.PathMTU(u16(1)%1600, now)
				case 2:
					c.SoftError(ErrRefused, a[1]&1 != 0, now)
				case 3:
					c.SetNoDelay(a[1]&1 != 0, now)
				case 4:
					c.SetRecvBuffer(u16(1)*16, now)
				case 5:
					c.SetKeepAlive(KeepAlive{Enable: a[1]&1 != 0, Idle: time.Second, Interval: time.Second, Count: 2}, now)
				}
			case 11:
				c.CloseRead()
				c.SetSendBuffer(u16(1), now)
			}
			checkConn(t, c)
			if c.State() == Closed {
				e.closed = e.closed || c.sndMax != c.iss
			}
			_ = c.Info()
		}
	}
}

func checkConn(t *testing.T, c *Conn) {
	t.Helper()
	if c.sndNxt.LessThan(c.sndUna) || c.sndMax.LessThan(c.sndNxt) {
		t.Fatalf("SND.UNA %d SND.NXT %d SND.MAX %d", c.sndUna, c.sndNxt, c.sndMax)
	}
	if c.rq.Readable() > c.rq.Capacity() {
		t.Fatalf("readable %d capacity %d", c.rq.Readable(), c.rq.Capacity())
	}
	if c.sndMax.Diff(c.sqSeq) > int32(c.sq.Len())+1 {
		t.Fatalf("SND.MAX %d beyond the data (from %d, %d octets) and FIN", c.sndMax, c.sqSeq, c.sq.Len())
	}
	if c.State() == Closed && !c.Deadline().IsZero() {
		t.Fatal("Deadline set in CLOSED")
	}
	if c.rcvAdv.LessThan(c.rq.RcvNxt()) && c.state != Closed && c.state != SynSent {
		t.Fatalf("advertised edge %d before RCV.NXT %d", c.rcvAdv, c.rq.RcvNxt())
	}
}
