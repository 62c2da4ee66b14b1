package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

const catSynopsis = `  stacknet cat (--tap NAME | --packet IFNAME) --addr ADDR/BITS [--gw IP]
               [--create --peer ADDR/BITS] [--pcap FILE] [-v] [--trace] HOST PORT
  stacknet cat [the same flags] -l [HOST] PORT`

const catAbout = `Cat is netcat over a stack: it brings up a stack on a device, as
'stacknet run' does, connects to HOST PORT over TCP (or, with -l, listens
on PORT and accepts one connection), and copies standard input to the
connection and the connection to standard output. At the end of standard
input it half-closes the connection (sends FIN); it exits once both
directions are done, or on SIGINT or SIGTERM, when it prints a summary
(connections, bytes, frames, drops) on standard error. For example, as root, with the kernel
listening ('nc -l 192.0.2.1 5000') on the subnet of
'stacknet tap create tap0 --kernel-addr 192.0.2.1/24':

  stacknet cat --tap tap0 --addr 192.0.2.2/24 192.0.2.1 5000 < file`

// runCat is cat on the process's standard input.
func runCat(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runCatIO(ctx, args, os.Stdin, stdout, stderr)
}

// catTarget is what cat connects to or listens on.
type catTarget struct {
	listen bool
	addr   string // HOST:PORT, HOST empty for every address
}

// parseCatArgs checks the positional arguments of cat.
func parseCatArgs(pos []string, listen bool) (catTarget, error) {
	var host, port string
	switch {
	case listen && len(pos) == 1:
		port = pos[0]
	case len(pos) == 2:
		host, port = pos[0], pos[1]
	case len(pos) > 2:
		return catTarget{}, usageErrorf("unexpected argument %q", pos[2])
	case listen:
		return catTarget{}, usageErrorf("missing PORT to listen on, such as: -l 5000")
	default:
		return catTarget{}, usageErrorf("missing HOST PORT to connect to, such as 192.0.2.1 5000 (or -l PORT to listen)")
	}
	if host != "" {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is4() {
			return catTarget{}, usageErrorf("HOST %q: want an IPv4 address such as 192.0.2.1 (stacknet cat resolves no names)", host)
		}
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (n == 0 && !listen) {
		return catTarget{}, usageErrorf("PORT %q: want a port number from 1 to 65535", port)
	}
	return catTarget{listen: listen, addr: net.JoinHostPort(host, port)}, nil
}

// runCatIO is cat with its standard input given.
func runCatIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var (
		dev     tapFlags
		listen  bool
		verbose bool
	)
	fs := newFlagSet("cat", catSynopsis, catAbout, stdout)
	dev.register(fs)
	fs.BoolVar(&listen, "l", false, "listen on [HOST] PORT and accept one connection, rather than connect")
	fs.BoolVar(&verbose, "v", false, "say on stderr what is happening, and how many bytes went each way")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	target, err := parseCatArgs(pos, listen)
	if err != nil {
		return err
	}
	if err := dev.check(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, cleanup, err := dev.open(stderr)
	if err != nil {
		return err
	}
	st := &serviceStats{name: "cat"}
	c, err := catConnect(ctx, h, target, stderr, verbose)
	if err == nil {
		st.conns.Add(1)
		err = catCopy(ctx, &countingConn{Conn: c, stats: st}, stdin, stdout)
	}
	if ctx.Err() != nil {
		// Interrupted (SIGINT or SIGTERM): a clean exit, with a summary
		// on stderr, as stdout carries the data.
		fmt.Fprintln(stderr) // after the terminal's ^C
		fmt.Fprintln(stderr, "stacknet cat: interrupted")
		writeSummary(stderr, h.stack.Stats(), []*serviceStats{st})
		return cleanup()
	}
	if verbose {
		fmt.Fprintf(stderr, "stacknet cat: %d bytes sent, %d bytes received\n", st.bytesOut.Load(), st.bytesIn.Load())
	}
	return errors.Join(err, cleanup())
}

// catConnect dials the target, or listens on it and accepts one
// connection, until ctx is done.
func catConnect(ctx context.Context, h *host, t catTarget, stderr io.Writer, verbose bool) (net.Conn, error) {
	if !t.listen {
		if verbose {
			fmt.Fprintf(stderr, "stacknet cat: connecting to %s\n", t.addr)
		}
		c, err := h.stack.DialContext(ctx, "tcp", t.addr)
		if err != nil {
			return nil, err
		}
		if verbose {
			fmt.Fprintf(stderr, "stacknet cat: connected from %v\n", c.LocalAddr())
		}
		return c, nil
	}
	l, err := h.stack.Listen("tcp", t.addr)
	if err != nil {
		return nil, listenHint("l", t.addr, err)
	}
	if verbose {
		fmt.Fprintf(stderr, "stacknet cat: listening on %v\n", l.Addr())
	}
	stopped := context.AfterFunc(ctx, func() { l.Close() })
	c, err := l.Accept()
	stopped()
	l.Close()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted while waiting for a connection: %w", ctx.Err())
		}
		return nil, err
	}
	if verbose {
		fmt.Fprintf(stderr, "stacknet cat: connection from %v\n", c.RemoteAddr())
	}
	return c, nil
}

// catCopy copies stdin to c, half-closing c at its end, and c to stdout,
// until both are done or ctx is. It closes c. On an error, or when ctx
// is done, it does not wait for the read from stdin under way, which may
// block until the process exits.
func catCopy(ctx context.Context, c net.Conn, stdin io.Reader, stdout io.Writer) error {
	up, down := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := io.Copy(c, stdin)
		if err == nil {
			if cw, ok := c.(interface{ CloseWrite() error }); ok {
				err = cw.CloseWrite()
			}
		}
		if err != nil {
			err = fmt.Errorf("sending: %w", err)
		}
		up <- err
	}()
	go func() {
		_, err := io.Copy(stdout, c)
		if err != nil {
			err = fmt.Errorf("receiving: %w", err)
		}
		down <- err
	}()
	var errs []error
	for pending := 2; pending > 0 && len(errs) == 0; pending-- {
		var err error
		select {
		case err = <-up:
			up = nil
		case err = <-down:
			down = nil
		case <-ctx.Done():
			err = fmt.Errorf("interrupted: %w", ctx.Err())
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	c.Close()
	if down != nil {
		// Closing c ends the copy to stdout; wait for it, so that
		// nothing is written to stdout after cat returns.
		<-down
	}
	return errors.Join(errs...)
}
