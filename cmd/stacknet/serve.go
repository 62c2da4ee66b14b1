package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/stacknet"
)

const serveSynopsis = `  stacknet serve (--tap NAME | --packet IFNAME) --addr ADDR/BITS [--gw IP]
                 [--create --peer ADDR/BITS] [--http ADDR:PORT --root DIR]
                 [--echo ADDR:PORT] [--discard ADDR:PORT] [--pcap FILE] [-v] [--trace]`

const serveAbout = `Serve brings up a stack on a TAP interface, as 'stacknet run' does, and
runs services on it until SIGINT (Ctrl-C) or SIGTERM: it answers ping,
serves the files under --root over HTTP, echoes TCP and UDP (RFC 862) and
discards TCP (RFC 863). Then it prints a summary and the stack's counters.
With --create it makes the TAP interface itself, gives the kernel's side
the --peer address, and removes the interface on exit. For example, as root:

  stacknet serve --tap tap0 --create --peer 192.0.2.1/24 --addr 192.0.2.2/24 --root .

and from another terminal: ping 192.0.2.2; curl http://192.0.2.2/;
nc 192.0.2.2 7. A service whose address is empty is not run.`

// tapFlags are deviceFlags, plus making the TAP interface for the
// command's lifetime: what serve and cat share.
type tapFlags struct {
	deviceFlags
	create bool
	peer   netip.Prefix
}

func (f *tapFlags) register(fs *flagSet) {
	f.deviceFlags.register(fs)
	fs.Func("gw", "the same as --gateway `IP`", func(s string) error {
		return fs.Set("gateway", s)
	})
	fs.BoolVar(&f.create, "create", false, "create the --tap interface, give the kernel's side --peer, and remove the interface on exit")
	fs.Func("peer", "with --create: the kernel side's `ADDR/BITS`, such as 192.0.2.1/24", func(s string) error {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return errors.New("want an IPv4 address with its prefix length, such as 192.0.2.1/24")
		}
		f.peer = p
		return nil
	})
}

func (f *tapFlags) check() error {
	if err := f.deviceFlags.check(); err != nil {
		return err
	}
	switch {
	case f.create && f.tap == "":
		return usageErrorf("--create makes a TAP interface: give its name with --tap NAME")
	case f.create && !f.peer.IsValid():
		return usageErrorf("--create needs --peer ADDR/BITS, the kernel side's address, such as --peer 192.0.2.1/24")
	case !f.create && f.peer.IsValid():
		return usageErrorf("--peer is the address --create gives the kernel's side: add --create, or give the address with 'stacknet tap create NAME --kernel-addr ADDR/BITS'")
	case f.create && f.peer.Addr() == f.addr.Addr():
		return usageErrorf("--peer %v and --addr %v are the same address: the kernel and the stack need one each", f.peer.Addr(), f.addr.Addr())
	case f.create && !f.peer.Masked().Contains(f.addr.Addr()):
		return usageErrorf("--peer %v is not on the subnet %v of --addr: the kernel could not reach the stack", f.peer, f.addr.Masked())
	}
	return nil
}

// open makes the TAP interface if asked, then builds the host on the
// device. The returned cleanup closes the host and removes the interface
// it made.
func (f *tapFlags) open(stderr io.Writer) (*host, func() error, error) {
	if err := f.check(); err != nil {
		return nil, nil, err
	}
	removeLink := func() error { return nil }
	if f.create {
		if err := link.CreateTAP(f.tap, 0); err != nil {
			return nil, nil, rootHint(err)
		}
		removeLink = func() error { return link.DeleteLink(f.tap) }
		if err := link.ConfigureKernelSide(f.tap, f.peer); err != nil {
			return nil, nil, errors.Join(rootHint(err), removeLink())
		}
	}
	h, err := f.deviceFlags.open(stderr)
	if err != nil {
		if f.tap != "" && !f.create && errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w; or let this command make it for its lifetime with --create --peer ADDR/BITS", err)
		}
		return nil, nil, errors.Join(rootHint(err), removeLink())
	}
	return h, func() error { return errors.Join(h.Close(), removeLink()) }, nil
}

// rootHint says what to do about a missing privilege.
func rootHint(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w (needs CAP_NET_ADMIN: run as root)", err)
	}
	return err
}

// listenHint says what to do about a port that is taken.
func listenHint(flagName, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("--%s %s: address already in use: another service here has that port; give each of --http, --echo and --discard its own: %w", flagName, addr, err)
	}
	return fmt.Errorf("--%s %s: %w", flagName, addr, err)
}

// serviceStats count one TCP service's connections and bytes.
type serviceStats struct {
	name          string
	conns         atomic.Uint64
	bytesIn       atomic.Uint64
	bytesOut      atomic.Uint64
	datagrams     atomic.Uint64 // UDP echo only
	datagramBytes atomic.Uint64
}

// countingListener counts what its connections carry into stats.
type countingListener struct {
	net.Listener
	stats *serviceStats
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.stats.conns.Add(1)
	return &countingConn{Conn: c, stats: l.stats}, nil
}

type countingConn struct {
	net.Conn
	stats *serviceStats
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.stats.bytesIn.Add(uint64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.stats.bytesOut.Add(uint64(n))
	return n, err
}

// CloseWrite half-closes the connection, as the stack's does.
func (c *countingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// tcpService accepts connections on l and runs handle on each, until
// stop: then it closes the listener and every open connection and waits
// for their goroutines.
type tcpService struct {
	l      net.Listener
	handle func(net.Conn)
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (s *tcpService) serve(out io.Writer, name string, verbose bool) {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				fmt.Fprintf(out, "%s stopped: %v\n", name, err)
			}
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		if verbose {
			fmt.Fprintf(out, "%s: connection from %v\n", name, c.RemoteAddr())
		}
		go func() {
			defer s.wg.Done()
			s.handle(c)
			c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *tcpService) stop() {
	s.l.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// echoTCP sends back what it reads (RFC 862), then half-closes.
func echoTCP(c net.Conn) {
	io.Copy(c, c)
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// discardTCP throws away what it reads (RFC 863).
func discardTCP(c net.Conn) { io.Copy(io.Discard, c) }

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		dev                         tapFlags
		httpAddr, root, echo, disc  string
		verbose                     bool
		httpStats, echoStats, discS = &serviceStats{name: "http"}, &serviceStats{name: "echo"}, &serviceStats{name: "discard"}
	)
	fs := newFlagSet("serve", serveSynopsis, serveAbout, stdout)
	dev.register(fs)
	fs.StringVar(&httpAddr, "http", ":80", "serve --root over HTTP on `ADDR:PORT`")
	fs.StringVar(&root, "root", "", "the `DIR` whose files --http serves; without it there is no HTTP server")
	fs.StringVar(&echo, "echo", ":7", "run the TCP and UDP echo services (RFC 862) on `ADDR:PORT`; empty for none")
	fs.StringVar(&disc, "discard", ":9", "run the TCP discard service (RFC 863) on `ADDR:PORT`; empty for none")
	fs.BoolVar(&verbose, "v", false, "print each connection and datagram")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, ""); err != nil {
		return err
	}
	httpSet := false
	fs.Visit(func(f *flag.Flag) { httpSet = httpSet || f.Name == "http" })
	if root == "" && httpSet && httpAddr != "" {
		return usageErrorf("--http needs --root DIR, the directory to serve")
	}
	if root == "" {
		httpAddr = ""
	} else if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return usageErrorf("--root %s: not a directory that can be read", root)
	}
	if err := dev.check(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := &syncWriter{w: stdout}
	h, cleanup, err := dev.open(stderr)
	if err != nil {
		return err
	}
	var services []*tcpService
	var servers []*http.Server
	var pc net.PacketConn
	echoDone := make(chan struct{})
	shutdown := func() {
		for _, srv := range servers {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if srv.Shutdown(sctx) != nil {
				srv.Close()
			}
			cancel()
		}
		for _, s := range services {
			s.stop()
		}
		if pc != nil {
			pc.Close()
			<-echoDone
		}
	}
	fail := func(err error) error {
		shutdown()
		return errors.Join(err, cleanup())
	}
	fmt.Fprintln(out, "stacknet serve: up")
	h.describe(out, "  ")
	h.describeWire(out, "  ")
	if dev.create {
		fmt.Fprintf(out, "  created %s; the kernel's side is %v\n", dev.tap, dev.peer)
	}
	if dev.gateway.IsValid() {
		fmt.Fprintf(out, "  default route via %v\n", dev.gateway)
	}
	addTCP := func(flagName, addr string, st *serviceStats, handle func(net.Conn)) error {
		l, err := h.stack.Listen("tcp", addr)
		if err != nil {
			return listenHint(flagName, addr, err)
		}
		s := &tcpService{l: countingListener{l, st}, handle: handle, conns: make(map[net.Conn]struct{})}
		s.wg.Add(1)
		go s.serve(out, st.name, verbose)
		services = append(services, s)
		fmt.Fprintf(out, "  TCP %s on %v\n", st.name, l.Addr())
		return nil
	}
	if httpAddr != "" {
		l, err := h.stack.Listen("tcp", httpAddr)
		if err != nil {
			return fail(listenHint("http", httpAddr, err))
		}
		var handler http.Handler = http.FileServer(http.Dir(root))
		if verbose {
			fh := handler
			handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(out, "http: %s %s from %s\n", r.Method, r.URL, r.RemoteAddr)
				fh.ServeHTTP(w, r)
			})
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
		servers = append(servers, srv)
		go srv.Serve(countingListener{l, httpStats})
		fmt.Fprintf(out, "  HTTP on %v serving %s\n", l.Addr(), root)
	}
	if echo != "" {
		if err := addTCP("echo", echo, echoStats, echoTCP); err != nil {
			return fail(err)
		}
		if pc, err = h.stack.ListenPacket("udp", echo); err != nil {
			pc = nil
			return fail(listenHint("echo", echo, err))
		}
		go func() {
			defer close(echoDone)
			udpEcho(pc, out, echoStats, verbose)
		}()
		fmt.Fprintf(out, "  UDP echo on %v\n", pc.LocalAddr())
	}
	if disc != "" {
		if err := addTCP("discard", disc, discS, discardTCP); err != nil {
			return fail(err)
		}
	}
	fmt.Fprintf(out, "stacknet serve: running; try `ping %v` from another terminal. Ctrl-C stops.\n", h.ifc.Addr().Addr())

	<-ctx.Done()
	fmt.Fprintln(out) // after the terminal's ^C
	fmt.Fprintln(out, "stacknet serve: stopping")
	shutdown()
	st := h.stack.Stats()
	writeSummary(out, st, []*serviceStats{httpStats, echoStats, discS})
	fmt.Fprintln(out, "counters:")
	writeStats(out, st, "  ")
	h.impairReport(out, "  ")
	if err := cleanup(); err != nil {
		return err
	}
	if dev.create {
		fmt.Fprintf(out, "removed %s\n", dev.tap)
	}
	return nil
}

// udpEcho is the UDP echo service, counting into st.
func udpEcho(pc net.PacketConn, out io.Writer, st *serviceStats, verbose bool) {
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				fmt.Fprintf(out, "udp echo stopped: %v\n", err)
			}
			return
		}
		st.datagrams.Add(1)
		st.datagramBytes.Add(uint64(n))
		if verbose {
			fmt.Fprintf(out, "udp echo: %d bytes from %v\n", n, from)
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil && verbose {
			fmt.Fprintf(out, "udp echo could not answer %v: %v\n", from, err)
		}
	}
}

// writeSummary prints what the services did, and the packets and
// drops of the stack: the summary of serve and of an interrupted cat.
func writeSummary(w io.Writer, st stacknet.Stats, services []*serviceStats) {
	fmt.Fprintln(w, "summary:")
	var conns, in, out uint64
	for _, s := range services {
		c, i, o := s.conns.Load(), s.bytesIn.Load(), s.bytesOut.Load()
		conns, in, out = conns+c, in+i, out+o
		fmt.Fprintf(w, "  %-8s %d connections, %d bytes received, %d bytes sent\n", s.name+":", c, i, o)
		if d := s.datagrams.Load(); d > 0 {
			fmt.Fprintf(w, "  %-8s %d UDP datagrams echoed, %d bytes\n", "", d, s.datagramBytes.Load())
		}
	}
	fmt.Fprintf(w, "  total:   %d connections, %d bytes received, %d bytes sent\n", conns, in, out)
	writeTraffic(w, st)
}

// writeTraffic prints the frames a stack moved and the packets it
// dropped, the last lines of every summary.
func writeTraffic(w io.Writer, st stacknet.Stats) {
	fmt.Fprintf(w, "  packets: %d frames received, %d frames sent\n", st.Link.InFrames, st.Link.OutFrames)
	drops := st.Link.OutErrors + st.ARP.QueueDrops + st.IP.InHdrErrors + st.IP.InDiscards + st.IP.OutDiscards +
		st.IP.OutNoRoutes + st.UDP.InErrors + st.TCP.InErrs + st.TCP.ListenDrops
	fmt.Fprintf(w, "  drops:   %d (link output errors, ARP queue, IP header errors and discards, no route, UDP and TCP input errors, listen drops)\n", drops)
}
