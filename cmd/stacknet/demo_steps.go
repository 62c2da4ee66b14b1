package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

const (
	demoPings = 3           // echo requests each way
	demoWait  = time.Second // how long the demo waits for an answer before it asks again
	demoTries = 10          // how often it asks before it gives up
	// demoBigTries is how often it sends the fragmented datagram on a
	// lossy wire, where it rarely survives and the demo goes on without.
	demoBigTries = 3
	demoBigSize  = 60000  // bytes of the fragmented datagram
	pingBytes    = 8 + 56 // an echo reply's ICMP header and data, as ping(8) counts them
)

func (d *demo) stepPing(ctx context.Context) error {
	for _, p := range []struct{ from, to *host }{{d.a, d.b}, {d.b, d.a}} {
		dst := p.to.ifc.Addr().Addr()
		fmt.Fprintf(d.out, "%s: ping %v\n", p.from.label, dst)
		for seq := 1; seq <= demoPings; seq++ {
			rtt, err := d.ping(ctx, p.from, dst, seq)
			if err != nil {
				return err
			}
			fmt.Fprintf(d.out, "  %d bytes from %v: icmp_seq=%d time=%s\n", pingBytes, dst, seq, formatRTT(rtt))
		}
		fmt.Fprintln(d.out)
	}
	fmt.Fprintln(d.out, "A's first echo request waited for ARP to find B's MAC address. B's did not:")
	fmt.Fprintln(d.out, "B had noted A's address from A's ARP request (RFC 826: the target of a")
	fmt.Fprintln(d.out, "request learns its sender).")
	return nil
}

// ping sends echo requests to dst until one is answered, up to demoTries.
func (d *demo) ping(ctx context.Context, h *host, dst netip.Addr, seq int) (time.Duration, error) {
	for try := 1; ; try++ {
		pctx, cancel := context.WithTimeout(ctx, demoWait)
		rtt, err := h.stack.Ping(pctx, dst)
		cancel()
		switch {
		case err == nil:
			return rtt, nil
		case ctx.Err() != nil:
			return 0, ctx.Err()
		case try == demoTries:
			return 0, fmt.Errorf("no answer to %d echo requests: %w", try, err)
		case errors.Is(err, context.DeadlineExceeded):
			fmt.Fprintf(d.out, "  icmp_seq=%d: no reply within %v; sending it again\n", seq, demoWait)
		default:
			fmt.Fprintf(d.out, "  icmp_seq=%d: %v; sending it again\n", seq, err)
		}
	}
}

// formatRTT prints a round-trip time as ping(8) does, in milliseconds.
func formatRTT(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 1:
		return fmt.Sprintf("%.3f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.2f ms", ms)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

func (d *demo) stepUDPEcho(ctx context.Context) error {
	pc, err := d.b.stack.ListenPacket("udp", ":7")
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		echoServer(pc, d.out, "B: echo server")
	}()
	defer func() {
		pc.Close()
		<-done
	}()
	fmt.Fprintf(d.out, "B: UDP echo server listening on %v\n", pc.LocalAddr())

	dst := netip.AddrPortFrom(d.b.ifc.Addr().Addr(), 7)
	c, err := d.a.stack.Dial("udp", dst.String())
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(d.out, "A: UDP socket %v connected to %v\n\n", c.LocalAddr(), c.RemoteAddr())

	for _, msg := range []string{"hello", "stacknet"} {
		if _, err := d.echo(ctx, c, []byte(msg), demoTries); err != nil {
			return err
		}
		fmt.Fprintln(d.out)
	}

	big := make([]byte, demoBigSize)
	for i := range big {
		big[i] = byte(i * 7)
	}
	frags := fragmentCount(8+len(big), d.a.ifc.MTU())
	fmt.Fprintf(d.out, "A %d-byte datagram does not fit in one %d-byte frame: IP splits it into %d\n", len(big), d.a.ifc.MTU(), frags)
	fmt.Fprintf(d.out, "fragments of at most %d bytes of data, and the receiver reassembles them.\n", fragmentData(d.a.ifc.MTU()))
	tries := demoTries
	if d.loss > 0 {
		tries = demoBigTries
	}
	ok, err := d.echo(ctx, c, big, tries)
	if err != nil && d.loss == 0 {
		return err
	}
	if ok {
		fmt.Fprintln(d.out, "   B fragmented its reply in the same way and A reassembled it.")
		return nil
	}
	survive := math.Pow(1-d.loss, float64(2*frags))
	fmt.Fprintf(d.out, "The %d-byte datagram did not come back in %d tries: every one of its %d fragments\n", len(big), tries, frags)
	fmt.Fprintf(d.out, "must cross the wire both ways, which at %g loss per frame happens %.1f%% of the time.\n", d.loss, 100*survive)
	fmt.Fprintln(d.out, "UDP does not retransmit; an application must, or use TCP. The demo goes on.")
	return nil
}

// fragmentData is the most data one fragment carries on a link of the
// given MTU: what fits after a 20-byte IP header, in whole 8-byte units
// (RFC 791: fragment offsets count 8-byte units).
func fragmentData(mtu int) int { return (mtu - 20) &^ 7 }

// fragmentCount is how many fragments an IP payload of n bytes takes.
func fragmentCount(n, mtu int) int {
	per := fragmentData(mtu)
	return (n + per - 1) / per
}

// echo sends msg on c until the same bytes come back, up to tries times,
// waiting demoWait for each. It reports whether they came back; it fails
// only on an error other than a timeout, or when tries run out and
// tries is demoTries (the datagram was required).
func (d *demo) echo(ctx context.Context, c net.Conn, msg []byte, tries int) (bool, error) {
	show := fmt.Sprintf("%d bytes", len(msg))
	if len(msg) <= 32 {
		show += fmt.Sprintf(" %q", msg)
	}
	buf := make([]byte, 65536)
	for try := 1; try <= tries; try++ {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if try == 1 {
			fmt.Fprintf(d.out, "A: sends %s to %v\n", show, c.RemoteAddr())
		} else {
			fmt.Fprintf(d.out, "A: no echo within %v; sends the %d bytes again\n", demoWait, len(msg))
		}
		if _, err := c.Write(msg); err != nil {
			return false, err
		}
		if err := c.SetReadDeadline(time.Now().Add(demoWait)); err != nil {
			return false, err
		}
		for {
			n, err := c.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return false, err
			}
			if bytes.Equal(buf[:n], msg) {
				if len(msg) <= 32 {
					fmt.Fprintf(d.out, "A: got %s back\n", show)
				} else {
					fmt.Fprintf(d.out, "A: got %d bytes back, identical to what it sent.\n", n)
				}
				return true, nil
			}
			fmt.Fprintf(d.out, "A: ignores a late echo of %d bytes from an earlier try\n", n)
		}
	}
	if tries == demoTries {
		return false, fmt.Errorf("no echo of %d bytes after %d tries", len(msg), tries)
	}
	return false, nil
}

func (d *demo) stepRefused(ctx context.Context) error {
	dst := netip.AddrPortFrom(d.b.ifc.Addr().Addr(), 9)
	c, err := d.a.stack.Dial("udp", dst.String())
	if err != nil {
		return err
	}
	defer c.Close()
	msg := []byte("anyone there?")
	fmt.Fprintf(d.out, "A: UDP socket %v connected to %v, where nothing listens\n", c.LocalAddr(), c.RemoteAddr())
	refused, err := d.untilRefused(ctx, c, msg)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "B: has no socket on port %d, so it answers with ICMP destination unreachable (port unreachable)\n", dst.Port())
	fmt.Fprintf(d.out, "A: the socket's next read fails:\n     %v\n", refused)
	fmt.Fprintf(d.out, "   errors.Is(err, syscall.ECONNREFUSED) is %v, as with package net's sockets on Linux.\n", errors.Is(refused, syscall.ECONNREFUSED))
	return nil
}

// untilRefused sends msg on c until the port unreachable comes back as
// ECONNREFUSED, from a read or a write, and returns that error.
func (d *demo) untilRefused(ctx context.Context, c net.Conn, msg []byte) (error, error) {
	buf := make([]byte, 1500)
	for try := 1; try <= demoTries; try++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if try == 1 {
			fmt.Fprintf(d.out, "A: sends %q\n", msg)
		} else {
			fmt.Fprintf(d.out, "A: no answer within %v; sends %q again\n", demoWait, msg)
		}
		if _, err := c.Write(msg); errors.Is(err, syscall.ECONNREFUSED) {
			return err, nil // the error of an earlier try, reported by this write
		} else if err != nil {
			return nil, err
		}
		if err := c.SetReadDeadline(time.Now().Add(demoWait)); err != nil {
			return nil, err
		}
		n, err := c.Read(buf)
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return err, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case err != nil:
			return nil, err
		}
		return nil, fmt.Errorf("a closed port answered with %d bytes", n)
	}
	return nil, fmt.Errorf("no port unreachable came back after %d tries", demoTries)
}
