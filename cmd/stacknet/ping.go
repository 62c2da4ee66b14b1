package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const pingSynopsis = `  stacknet ping (--tap NAME | --packet IFNAME) --addr ADDR/BITS [--gateway IP]
                [--count N] [--interval D] [--timeout D] [--pcap FILE] [--trace]
                [--loss P] [--dup P] [--reorder P] [--corrupt P] [--delay D] [--seed N]
                DEST`

const pingAbout = `Ping brings up a stack on a device, as 'stacknet run' does, and sends ICMP
echo requests from it to DEST, printing each reply as ping(8) does, and a
summary at the end, after --count requests or SIGINT (Ctrl-C). It waits
for each reply (up to --timeout) before it sends the next request. It
exits 0 if any reply came back. For example, as root, with the TAP
interface of 'stacknet tap create tap0 --kernel-addr 192.0.2.1/24':

  stacknet ping --tap tap0 --addr 192.0.2.2/24 --count 3 192.0.2.1`

func runPing(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		dev      deviceFlags
		count    int
		interval time.Duration
		timeout  time.Duration
	)
	fs := newFlagSet("ping", pingSynopsis, pingAbout, stdout)
	dev.register(fs)
	fs.IntVar(&count, "count", 0, "stop after `N` requests; 0 sends until interrupted")
	fs.DurationVar(&interval, "interval", time.Second, "send a request every `D`")
	fs.DurationVar(&timeout, "timeout", 2*time.Second, "wait `D` for each reply")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "DEST, the IPv4 address to ping"); err != nil {
		return err
	}
	dst, err := netip.ParseAddr(pos[0])
	if err != nil || !dst.Is4() {
		return usageErrorf("DEST %q: want an IPv4 address such as 192.0.2.1 (stacknet resolves no names)", pos[0])
	}
	switch {
	case count < 0:
		return usageErrorf("--count %d: want 0 (until interrupted) or more", count)
	case interval <= 0:
		return usageErrorf("--interval %v: want a positive duration such as 1s", interval)
	case timeout <= 0:
		return usageErrorf("--timeout %v: want a positive duration such as 2s", timeout)
	}
	if err := dev.check(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := dev.open(stderr)
	if err != nil {
		return err
	}
	h.describeWire(stdout, "")
	p := pinger{ping: h.stack.Ping, out: stdout, dst: dst, src: h.ifc.Addr().Addr(), interval: interval, timeout: timeout}
	err = p.run(ctx, count)
	return errors.Join(err, h.Close())
}

// pinger runs ping(8)'s loop on a stack.
type pinger struct {
	ping              func(context.Context, netip.Addr) (time.Duration, error)
	out               io.Writer
	dst, src          netip.Addr
	interval, timeout time.Duration

	sent, received, errs int
	rtts                 []time.Duration
}

func (p *pinger) run(ctx context.Context, count int) error {
	fmt.Fprintf(p.out, "PING %v (%v) 56(84) bytes of data.\n", p.dst, p.dst)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for seq := 1; count == 0 || seq <= count; seq++ {
		sentAt := time.Now()
		if err := p.one(ctx, seq); err != nil {
			return err
		}
		if ctx.Err() != nil || seq == count {
			break
		}
		timer.Reset(p.interval - time.Since(sentAt))
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	p.summary(time.Since(start))
	if p.received == 0 {
		return fmt.Errorf("no reply from %v", p.dst)
	}
	return nil
}

// one sends echo request seq and prints what came of it. It fails only
// when the request cannot be sent at all.
func (p *pinger) one(ctx context.Context, seq int) error {
	pctx, cancel := context.WithTimeout(ctx, p.timeout)
	rtt, err := p.ping(pctx, p.dst)
	cancel()
	p.sent++
	var se *os.SyscallError
	switch {
	case err == nil:
		p.received++
		p.rtts = append(p.rtts, rtt)
		fmt.Fprintf(p.out, "%d bytes from %v: icmp_seq=%d time=%s\n", pingBytes, p.dst, seq, formatRTT(rtt))
	case ctx.Err() != nil:
		// Interrupted while waiting: the summary follows.
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(p.out, "no reply to icmp_seq=%d within %v\n", seq, p.timeout)
	case errors.As(err, &se) && se.Syscall == "sendto":
		p.sent--
		return fmt.Errorf("ping %v: %w", p.dst, err) // no route: as ping(8), give up
	case errors.Is(err, syscall.EHOSTUNREACH):
		p.errs++
		fmt.Fprintf(p.out, "From %v icmp_seq=%d Destination Host Unreachable\n", p.src, seq)
	default:
		p.errs++
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err // the address is on the line already
		}
		fmt.Fprintf(p.out, "From %v icmp_seq=%d %v\n", p.dst, seq, err)
	}
	return nil
}

// summary prints ping(8)'s closing lines.
func (p *pinger) summary(elapsed time.Duration) {
	fmt.Fprintf(p.out, "\n--- %v ping statistics ---\n", p.dst)
	loss := 0
	if p.sent > 0 {
		loss = 100 * (p.sent - p.received) / p.sent
	}
	errs := ""
	if p.errs > 0 {
		errs = fmt.Sprintf(", +%d errors", p.errs)
	}
	fmt.Fprintf(p.out, "%d packets transmitted, %d received%s, %d%% packet loss, time %dms\n",
		p.sent, p.received, errs, loss, elapsed.Milliseconds())
	if len(p.rtts) == 0 {
		return
	}
	lo, hi, sum, sq := p.rtts[0], p.rtts[0], 0.0, 0.0
	for _, r := range p.rtts {
		lo, hi = min(lo, r), max(hi, r)
		ms := float64(r) / float64(time.Millisecond)
		sum += ms
		sq += ms * ms
	}
	n := float64(len(p.rtts))
	avg := sum / n
	mdev := math.Sqrt(max(sq/n-avg*avg, 0))
	fmt.Fprintf(p.out, "rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n",
		float64(lo)/float64(time.Millisecond), avg, float64(hi)/float64(time.Millisecond), mdev)
}
