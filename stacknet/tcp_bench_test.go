package stacknet

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
)

// The TCP benchmarks run the same work over two stacks joined by an
// in-memory wire, at MTU 1500 and 65000, and over the kernel's loopback,
// side by side, so that the ratios ../shared/TARGETS.md sets can be read
// from one run:
//
//	go test -run '^$' -bench 'TCP|HTTP' -benchmem ./stacknet
//
// Each benchmark has sub-benchmarks .../stacknet/mtu=1500,
// .../stacknet/mtu=65000 and .../kernel.

// benchNet is one network to run a benchmark over.
type benchNet struct {
	name string
	mtu  int // of the in-memory wire; 0 for the kernel's loopback
}

var benchNets = []benchNet{
	{"stacknet/mtu=1500", 1500},
	{"stacknet/mtu=65000", 65000},
	{"kernel", 0},
}

// setup returns a listener and a dialer for it: on stack B and through
// stack A, or on 127.0.0.1 and through package net.
func (n benchNet) setup(b *testing.B) (net.Listener, func(context.Context) (net.Conn, error)) {
	b.Helper()
	if n.mtu == 0 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ln.Close() })
		var d net.Dialer
		addr := ln.Addr().String()
		return ln, func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp4", addr) }
	}
	da, db := link.Pipe(n.mtu, link.WithChecksumOffload())
	sa, sb := pairOn(b, Config{}, da, db)
	ln, err := sb.Listen("tcp", "192.0.2.2:9000")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	return ln, func(ctx context.Context) (net.Conn, error) { return sa.DialContext(ctx, "tcp", "192.0.2.2:9000") }
}

// benchConn dials one connection and returns the client end and the
// server end.
func benchConn(b *testing.B, ln net.Listener, dial func(context.Context) (net.Conn, error)) (net.Conn, net.Conn) {
	b.Helper()
	c, s, err := dialAccept(ln, func() (net.Conn, error) { return dial(context.Background()) })
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.Close()
		s.Close()
	})
	return c, s
}

// BenchmarkTCPBulk: one connection, the client writing 64 KiB at a time,
// the server reading and discarding. The time includes the server
// reading the last byte.
func BenchmarkTCPBulk(b *testing.B) {
	const size = 64 << 10
	for _, n := range benchNets {
		b.Run(n.name, func(b *testing.B) {
			ln, dial := n.setup(b)
			c, s := benchConn(b, ln, dial)
			got := make(chan int64, 1)
			go func() {
				buf := make([]byte, size)
				var total int64
				for {
					k, err := s.Read(buf)
					total += int64(k)
					if err != nil {
						got <- total
						return
					}
				}
			}()
			msg := make([]byte, size)
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
			}
			c.(interface{ CloseWrite() error }).CloseWrite()
			total := <-got
			b.StopTimer()
			if want := int64(b.N) * size; total != want {
				b.Fatalf("the server read %d bytes, want %d", total, want)
			}
		})
	}
}

// BenchmarkTCPRoundTrip: a 64-byte request and its 64-byte answer on
// one connection; ns/op is the round trip.
func BenchmarkTCPRoundTrip(b *testing.B) {
	const size = 64
	for _, n := range benchNets {
		b.Run(n.name, func(b *testing.B) {
			ln, dial := n.setup(b)
			c, s := benchConn(b, ln, dial)
			go func() {
				buf := make([]byte, size)
				for {
					if _, err := io.ReadFull(s, buf); err != nil {
						return
					}
					if _, err := s.Write(buf); err != nil {
						return
					}
				}
			}()
			msg, buf := make([]byte, size), make([]byte, size)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTCPConnect: dial, one byte each way, close; the server closes
// first (so TIME-WAIT is the server's, as for HTTP/1.0), the client reads
// its EOF and closes. One at a time; conns/s is the rate.
func BenchmarkTCPConnect(b *testing.B) {
	for _, n := range benchNets {
		b.Run(n.name, func(b *testing.B) {
			ln, dial := n.setup(b)
			var wg sync.WaitGroup
			b.Cleanup(func() {
				ln.Close()
				wg.Wait()
			})
			wg.Go(func() {
				for {
					s, err := ln.Accept()
					if err != nil {
						return
					}
					wg.Go(func() {
						defer s.Close()
						var one [1]byte
						if _, err := io.ReadFull(s, one[:]); err != nil {
							return
						}
						s.Write(one[:])
					})
				}
			})
			ctx := context.Background()
			buf := make([]byte, 2)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c, err := dial(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Write([]byte{'q'}); err != nil {
					b.Fatal(err)
				}
				if k, err := io.ReadAtLeast(c, buf, 1); k != 1 || err != nil {
					b.Fatalf("read the answer: %d bytes, %v", k, err)
				}
				if k, err := c.Read(buf); k != 0 || err != io.EOF {
					b.Fatalf("read the server's FIN: %d bytes, %v", k, err)
				}
				c.Close()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conns/s")
		})
	}
}

// BenchmarkHTTPGet: net/http GETs of a 1 KiB body by 8 clients at once,
// each on its own kept-alive connection; req/s is the rate.
func BenchmarkHTTPGet(b *testing.B) {
	const clients = 8
	body := bytes.Repeat([]byte("0123456789abcdef"), 64)
	for _, n := range benchNets {
		b.Run(n.name, func(b *testing.B) {
			ln, dial := n.setup(b)
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write(body)
			})}
			go srv.Serve(ln)
			b.Cleanup(func() { srv.Close() })
			tr := &http.Transport{
				DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
				MaxIdleConnsPerHost: clients,
			}
			b.Cleanup(tr.CloseIdleConnections)
			client := &http.Client{Transport: tr}
			get := func() error {
				resp, err := client.Get("http://bench.test/")
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return err
			}
			// Warm up: one connection per client.
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					if err := get(); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
			var left atomic.Int64
			left.Store(int64(b.N))
			b.ReportAllocs()
			b.ResetTimer()
			for range clients {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						if err := get(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkTCPIdleConnHeap: the heap 1,000 idle established connections
// take, both ends counted, per connection (B/conn). Only stacknet: a
// kernel socket's memory is not in the Go heap. The server ends close
// first, so that TIME-WAIT is theirs and the client's ephemeral ports
// (28,232 of them, as Linux's) stay free for the next 1,000.
func BenchmarkTCPIdleConnHeap(b *testing.B) {
	const conns = 1000
	for _, n := range benchNets[:2] {
		b.Run(n.name, func(b *testing.B) {
			ln, dial := n.setup(b)
			ends := make([]net.Conn, 0, 2*conns)
			var perConn float64
			var before, after runtime.MemStats
			for range b.N {
				runtime.GC()
				runtime.ReadMemStats(&before)
				for range conns {
					c, s, err := dialAccept(ln, func() (net.Conn, error) { return dial(context.Background()) })
					if err != nil {
						b.Fatal(err)
					}
					ends = append(ends, c, s)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perConn += float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / conns
				b.StopTimer()
				closeServerFirst(b, ends)
				ends = ends[:0]
				b.StartTimer()
			}
			b.ReportMetric(perConn/float64(b.N), "B/conn")
		})
	}
}

// closeServerFirst closes pairs of ends (client, server): the servers
// first, then each client once it has read the server's FIN, so that no
// client port is left in TIME-WAIT.
func closeServerFirst(b *testing.B, ends []net.Conn) {
	for i := 1; i < len(ends); i += 2 {
		ends[i].Close()
	}
	var one [1]byte
	for i := 0; i < len(ends); i += 2 {
		c := ends[i]
		c.SetReadDeadline(time.Now().Add(time.Minute))
		if k, err := c.Read(one[:]); k != 0 || err != io.EOF {
			b.Fatalf("client waiting for the server's FIN: %d bytes, %v", k, err)
		}
		c.Close()
	}
	clear(ends)
}
