package stacknet

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/stacknet/stacknet/proto/icmp"
	"github.com/stacknet/stacknet/proto/ipv4"
)

// pingDataLen is the data an echo request carries, as ping(8) sends by
// default: 56 bytes, the first eight a timestamp.
const pingDataLen = 56

// Ping sends one ICMP echo request to dst and waits for the reply, for an
// ICMP error about it, or for ctx. It returns the round-trip time.
// Errors are *net.OpError values with Op "ping": EHOSTUNREACH when the
// neighbour does not answer ARP, the errno of an ICMP error that came
// back, or ctx's error.
func (s *Stack) Ping(ctx context.Context, dst netip.Addr) (time.Duration, error) {
	opErr := func(err error) error {
		return opError("ping", "ip4:icmp", nil, &net.IPAddr{IP: dst.AsSlice()}, err)
	}
	if !dst.Is4() {
		return 0, opErr(syscall.EAFNOSUPPORT)
	}
	select {
	case <-s.done:
		return 0, opErr(errClosed)
	default:
	}
	r, err := s.findRoute(dst)
	if err != nil {
		return 0, opErr(os.NewSyscallError("sendto", err))
	}
	w, err := s.pings.add(dst)
	if err != nil {
		return 0, opErr(err)
	}
	defer s.pings.remove(w)

	pb := s.bufs.get(headroom + icmp.HeaderLen + pingDataLen)
	b := pb.b[headroom : headroom+icmp.HeaderLen+pingDataLen]
	start := time.Now()
	binary.BigEndian.PutUint64(b[icmp.HeaderLen:], uint64(start.UnixNano()))
	for j := 8; j < pingDataLen; j++ {
		b[icmp.HeaderLen+j] = byte(j)
	}
	icmp.Put(b, icmp.TypeEcho, 0, icmp.EchoRest(w.id, w.seq))
	add(&s.stats.ICMP.OutMsgs)
	add(&s.stats.ICMP.OutEchos)
	if s.tracing() {
		s.trace("icmp output", r.ifc, icmp.Message(b).String())
	}
	s.send(&r, pb, ipv4.ProtoICMP, r.src, dst, len(b))

	select {
	case err := <-w.done:
		if err != nil {
			return 0, opErr(err)
		}
		return time.Since(start), nil
	case <-ctx.Done():
		return 0, opErr(ctx.Err())
	case <-s.done:
		return 0, opErr(errClosed)
	}
}

// pinger matches echo replies and errors to the Ping calls waiting for
// them, by identifier.
type pinger struct {
	mu      sync.Mutex
	waiters map[uint16]*pingWait
	closed  bool
}

type pingWait struct {
	id, seq uint16
	dst     netip.Addr
	done    chan error // receives nil for a reply, or the error
}

func (p *pinger) init() { p.waiters = make(map[uint16]*pingWait) }

func (p *pinger) add(dst netip.Addr) (*pingWait, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errClosed
	}
	if len(p.waiters) >= 1<<15 {
		return nil, errors.New("too many pings in flight")
	}
	w := &pingWait{dst: dst, seq: uint16(rand.N(1 << 16)), done: make(chan error, 1)}
	for {
		w.id = uint16(rand.N(1 << 16))
		if _, busy := p.waiters[w.id]; !busy {
			break
		}
	}
	p.waiters[w.id] = w
	return w, nil
}

func (p *pinger) remove(w *pingWait) {
	p.mu.Lock()
	delete(p.waiters, w.id)
	p.mu.Unlock()
}

// reply wakes the Ping waiting for this echo reply.
func (p *pinger) reply(from netip.Addr, id, seq uint16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w := p.waiters[id]; w != nil && w.seq == seq && w.dst == from {
		select {
		case w.done <- nil:
		default:
		}
	}
}

// fail delivers an error to the Ping of this identifier.
func (p *pinger) fail(dst netip.Addr, id uint16, errno syscall.Errno) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w := p.waiters[id]; w != nil && w.dst == dst {
		select {
		case w.done <- errno:
		default:
		}
		return true
	}
	return false
}

func (p *pinger) closeAll() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}
