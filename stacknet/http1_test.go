package stacknet

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
)

// HTTP/1.1 over the stack beyond plain requests (http_test.go): chunked
// bodies and trailers, a 100 MB body, the Server's Read, Write and Idle
// timeouts acting on stacknet connections, and stopping a server with
// connections in awkward states.

// h1Server serves h on 192.0.2.2:80 of stack B after cfg (if any) has
// adjusted the Server, and returns stack A to dial from. With big, the
// stacks are joined by a 65000-byte MTU pipe with checksum offload. The
// server is closed at the end of the test.
func h1Server(t *testing.T, big bool, h http.Handler, cfg func(*http.Server)) (*Stack, *http.Server) {
	t.Helper()
	da, db := link.Pipe(1500)
	if big {
		da, db = link.Pipe(65000, link.WithChecksumOffload())
	}
	a, b := pairOn(t, Config{}, da, db)
	ln, err := b.Listen("tcp", "192.0.2.2:80")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	if cfg != nil {
		cfg(srv)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return a, srv
}

// h1Raw dials the server from stack A as a bare TCP client, for tests
// that need to misbehave in ways http.Transport will not.
func h1Raw(t *testing.T, a *Stack) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := a.DialContext(ctxTimeout(t, hangLimit), "tcp", "192.0.2.2:80")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(hangLimit))
	return c, bufio.NewReader(c)
}

// h1Closed reads from c until the server's close shows: io.EOF (or a
// reset), failing the test if data or a timeout comes instead.
func h1Closed(t *testing.T, what string, r io.Reader) {
	t.Helper()
	n, err := r.Read(make([]byte, 1))
	if n != 0 || (err != io.EOF && !errors.Is(err, syscall.ECONNRESET)) {
		t.Errorf("%s: read %d, %v; want the server to close the connection", what, n, err)
	}
}

// TestHTTP1Chunked: a request body of unknown length goes out chunked with
// a trailer, and a response flushed in pieces comes back chunked with a
// trailer; the server sees the request's length as unknown and the body
// and trailer intact, and so does the client for the response.
func TestHTTP1Chunked(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /chunked", func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != -1 || len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
			http.Error(w, fmt.Sprintf("request length %d, transfer-encoding %q", r.ContentLength, r.TransferEncoding), http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Trailer", "X-Request-Trailer, X-Response-Sha256")
		w.WriteHeader(http.StatusOK)
		// The body back in pieces of 1000, each flushed: no length is
		// known when the header goes out.
		for len(body) > 0 {
			n := min(len(body), 1000)
			w.Write(body[:n])
			w.(http.Flusher).Flush()
			body = body[n:]
		}
		w.Header().Set("X-Request-Trailer", r.Trailer.Get("X-Request-Trailer"))
		w.Header().Set("X-Response-Sha256", r.Header.Get("X-Want-Sha256"))
	})
	a, _ := h1Server(t, false, mux, nil)
	client := &http.Client{Transport: &http.Transport{DialContext: a.DialContext}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	for _, size := range []int{1, 999, 1000, 5000, 64 << 10, 1 << 20} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			in := tlsPattern(size, byte(size>>3))
			sum := fmt.Sprintf("%x", sha256.Sum256(in))
			// Hiding the reader's length makes the Transport send chunks.
			req, err := http.NewRequest("POST", "http://192.0.2.2/chunked", struct{ io.Reader }{bytes.NewReader(in)})
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Want-Sha256", sum)
			req.Trailer = http.Header{"X-Request-Trailer": {"trailer-" + strconv.Itoa(size)}}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s", resp.Status, got)
			}
			if resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
				t.Errorf("response length %d, transfer-encoding %q; want chunked", resp.ContentLength, resp.TransferEncoding)
			}
			if !bytes.Equal(got, in) {
				t.Errorf("%d bytes came back as %d different bytes", size, len(got))
			}
			if v := resp.Trailer.Get("X-Request-Trailer"); v != "trailer-"+strconv.Itoa(size) {
				t.Errorf("the server saw request trailer %q", v)
			}
			if v := resp.Trailer.Get("X-Response-Sha256"); v != sum {
				t.Errorf("response trailer X-Response-Sha256 %q, want %q", v, sum)
			}
		})
	}
}

// h1Block is block i of h1BigBody: a fixed MiB with i in its first 8
// bytes, so a lost, repeated or reordered block changes the digest.
func h1Block(base []byte, i int) []byte {
	binary.BigEndian.PutUint64(base, uint64(i))
	return base
}

// TestHTTP1LargeBody: a 100 MB response, streamed by the server with a
// Content-Length and by a chunked handler, arrives whole (sha256) at a
// client reading through the stack.
func TestHTTP1LargeBody(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB transfer skipped in -short mode")
	}
	const blocks = 100 // of 1 MiB: 100 MiB
	write := func(w io.Writer) error {
		base := tlsPattern(1<<20, 0x5a)
		for i := range blocks {
			if _, err := w.Write(h1Block(base, i)); err != nil {
				return err
			}
		}
		return nil
	}
	want := sha256.New()
	write(want)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(blocks<<20))
		write(w)
	})
	mux.HandleFunc("GET /chunked", func(w http.ResponseWriter, r *http.Request) {
		write(w)
	})
	a, _ := h1Server(t, true, mux, nil)
	client := &http.Client{Transport: &http.Transport{DialContext: a.DialContext}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	for _, tc := range []struct {
		path    string
		wantLen int64
	}{{"/length", blocks << 20}, {"/chunked", -1}} {
		t.Run(tc.path[1:], func(t *testing.T) {
			resp, err := client.Get("http://192.0.2.2" + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.ContentLength != tc.wantLen {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, tc.wantLen)
			}
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			if err != nil {
				t.Fatalf("after %d bytes: %v", n, err)
			}
			if n != blocks<<20 || !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
				t.Errorf("got %d bytes with sha256 %x, want %d with %x", n, h.Sum(nil), blocks<<20, want.Sum(nil))
			}
		})
	}
}

// isDeadline reports whether err is a net.Error timeout wrapping
// os.ErrDeadlineExceeded, as the kernel's connections report.
func isDeadline(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

// TestHTTP1ServerTimeouts: each of the Server's timeouts acts on a
// stacknet connection. ReadTimeout: a client stalling in its header is
// disconnected, and one stalling in its body makes the handler's read fail
// with a timeout. WriteTimeout: a handler writing to a client that does not
// read fails with a timeout. IdleTimeout: a kept-alive connection left idle
// is closed by the server. None acts before its time.
func TestHTTP1ServerTimeouts(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, tc := range []struct {
		name string
		cfg  func(*http.Server)
		// send is what the client writes; handlerErr, when set, is the
		// error the handler must see; else the client must see a close.
		send       string
		handlerErr bool
		// response: a full response comes first (IdleTimeout).
		response bool
	}{
		{"ReadTimeout-header", func(s *http.Server) { s.ReadTimeout = timeout }, "GET /read HTTP/1.1\r\nHost: x\r\n", false, false},
		{"ReadTimeout-body", func(s *http.Server) { s.ReadTimeout = timeout }, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten.", true, false},
		{"WriteTimeout", func(s *http.Server) { s.WriteTimeout = timeout }, "GET /write HTTP/1.1\r\nHost: x\r\n\r\n", true, false},
		{"IdleTimeout", func(s *http.Server) { s.IdleTimeout = timeout }, "GET /idle HTTP/1.1\r\nHost: x\r\n\r\n", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			handlerErr := make(chan error, 1)
			mux := http.NewServeMux()
			mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
				_, err := io.ReadAll(r.Body)
				handlerErr <- err
			})
			mux.HandleFunc("GET /write", func(w http.ResponseWriter, r *http.Request) {
				// Far more than the windows and buffers between here and a
				// client that reads nothing.
				chunk := make([]byte, 64<<10)
				for range 4096 {
					if _, err := w.Write(chunk); err != nil {
						handlerErr <- err
						return
					}
				}
				handlerErr <- errors.New("256 MiB written to a client that reads nothing")
			})
			mux.HandleFunc("GET /idle", func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			})
			a, _ := h1Server(t, false, mux, tc.cfg)
			// Every timeout is armed by the server after this.
			start := time.Now()
			c, br := h1Raw(t, a)
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			if tc.response {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil || string(body) != "ok" || resp.Close {
					t.Fatalf("response: %q, %v, close %v; want a kept-alive ok", body, err, resp.Close)
				}
			}
			if tc.handlerErr {
				var err error
				select {
				case err = <-handlerErr:
				case <-time.After(hangLimit):
					t.Fatalf("the handler was not stopped by %s", tc.name)
				}
				if !isDeadline(err) {
					t.Errorf("handler: %v (%T); want a net.Error timeout wrapping os.ErrDeadlineExceeded", err, err)
				}
			} else {
				h1Closed(t, tc.name, br)
			}
			if el := time.Since(start); el < timeout {
				t.Errorf("%s acted after %v, before its %v", tc.name, el, timeout)
			}
		})
	}
}

// TestHTTP1StopWithStuckClients: Shutdown closes idle kept-alive
// connections at once (the client reads EOF) and returns; Close returns at
// once even with a handler blocked writing to a client that reads nothing,
// and that handler's write fails.
func TestHTTP1StopWithStuckClients(t *testing.T) {
	t.Run("Shutdown-idle", func(t *testing.T) {
		const conns = 3
		var idle atomic.Int64
		allIdle := make(chan struct{})
		a, srv := h1Server(t, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}), func(s *http.Server) {
			s.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateIdle && idle.Add(1) == conns {
					close(allIdle)
				}
			}
		})
		var readers []*bufio.Reader
		for range conns {
			c, br := h1Raw(t, a)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			readers = append(readers, br)
		}
		// Shutdown closes idle connections only: wait until the server
		// has marked all of them idle.
		returnsPromptly(t, "the connections going idle", func() struct{} { <-allIdle; return struct{}{} })
		if err := returnsPromptly(t, "Shutdown", func() error { return srv.Shutdown(context.Background()) }); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for i, br := range readers {
			h1Closed(t, fmt.Sprintf("idle connection %d after Shutdown", i), br)
		}
	})
	t.Run("Close-stuck-writer", func(t *testing.T) {
		started := make(chan struct{})
		handlerErr := make(chan error, 1)
		a, srv := h1Server(t, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			chunk := make([]byte, 64<<10)
			for range 4096 {
				if _, err := w.Write(chunk); err != nil {
					handlerErr <- err
					return
				}
			}
			handlerErr <- errors.New("256 MiB written to a client that reads nothing")
		}), nil)
		c, _ := h1Raw(t, a)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		<-started
		if err := returnsPromptly(t, "Close", srv.Close); err != nil {
			t.Errorf("Close: %v", err)
		}
		err := returnsPromptly(t, "the stuck handler", func() error { return <-handlerErr })
		if err == nil || strings.Contains(err.Error(), "256 MiB") {
			t.Errorf("handler write after Close: %v; want it to fail", err)
		}
	})
}

// TestHTTP1TestServer: an httptest.Server on a stacknet listener keeps its
// client's connection alive across requests, and CloseClientConnections
// cuts it so the next request dials anew.
func TestHTTP1TestServer(t *testing.T) {
	a, b := pair(t, Config{})
	ln, err := b.Listen("tcp", "192.0.2.2:8080")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	var conns atomic.Int64
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	defer ts.Close()
	c := ts.Client()
	c.Transport.(*http.Transport).DialContext = a.DialContext
	get := func() {
		t.Helper()
		resp, err := c.Get(ts.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "HTTP/1.1" {
			t.Fatalf("GET: %q, %v", body, err)
		}
	}
	for range 3 {
		get()
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("3 requests used %d connections, want 1", n)
	}
	returnsPromptly(t, "CloseClientConnections", func() struct{} { ts.CloseClientConnections(); return struct{}{} })
	get()
	if n := conns.Load(); n != 2 {
		t.Errorf("after CloseClientConnections: %d connections, want 2", n)
	}
	returnsPromptly(t, "httptest.Server.Close", func() struct{} { ts.Close(); return struct{}{} })
}
