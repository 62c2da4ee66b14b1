package stacknet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// net/http over the stack: an http.Server serving a stacknet listener, a
// client whose Transport dials through the other stack. Nothing in
// net/http knows it is not talking to the kernel.

// hangLimit bounds how long a call that must return promptly may take
// before the test calls it hung. It is a liveness check, not a measure of
// speed: the calls return in milliseconds.
const hangLimit = 10 * time.Second

// httpHandler serves /hello (a fixed text), /echo (the request body back,
// with its SHA-256 in a header), /size/N (N bytes) and /block (waits
// until release is closed).
func httpHandler(release <-chan struct{}, blocked chan<- struct{}) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s over stacknet TCP\n", r.Host)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sum := sha256.Sum256(body)
		w.Header().Set("X-Body-Sha256", fmt.Sprintf("%x", sum))
		w.Write(body)
	})
	mux.HandleFunc("GET /size/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 0 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Write(bytes.Repeat([]byte{'z'}, n))
	})
	mux.HandleFunc("GET /block", func(w http.ResponseWriter, r *http.Request) {
		blocked <- struct{}{}
		<-release
		io.WriteString(w, "released")
	})
	return mux
}

// httpFixture is an http.Server on stack B and a client dialing through
// stack A, with what the tests watch: Serve's result, the handler of
// /block, and the connections the server saw.
type httpFixture struct {
	srv     *http.Server
	client  *http.Client
	tr      *http.Transport
	url     string
	served  chan error
	release chan struct{}
	blocked chan struct{}
	newConn atomic.Int64 // connections the server saw
}

// newHTTPFixture starts the server on 192.0.2.2:port.
func newHTTPFixture(t *testing.T, port int) *httpFixture {
	t.Helper()
	a, b := pair(t, Config{})
	ln, err := b.Listen("tcp", "192.0.2.2:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	f := &httpFixture{
		url:     "http://192.0.2.2:" + strconv.Itoa(port),
		served:  make(chan error, 1),
		release: make(chan struct{}),
		blocked: make(chan struct{}, 1),
	}
	f.srv = &http.Server{
		Handler: httpHandler(f.release, f.blocked),
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				f.newConn.Add(1)
			}
		},
	}
	f.tr = &http.Transport{DialContext: a.DialContext, MaxIdleConnsPerHost: 8}
	f.client = &http.Client{Transport: f.tr, Timeout: time.Minute}
	go func() { f.served <- f.srv.Serve(ln) }()
	t.Cleanup(func() {
		f.tr.CloseIdleConnections()
		f.srv.Close()
	})
	return f
}

// do makes one request and returns the body and the response, failing
// on anything but 200. reused reports whether the request went over a kept-alive connection.
func (f *httpFixture) do(t *testing.T, method, path string, body []byte) (got []byte, resp *http.Response, reused bool) {
	t.Helper()
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, f.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = f.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	got, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, got)
	}
	return got, resp, reused
}

// TestHTTPRequests: GETs and POSTs of bodies from empty to 4 MiB, all
// over one kept-alive connection.
func TestHTTPRequests(t *testing.T) {
	f := newHTTPFixture(t, 80)
	body, _, reused := f.do(t, "GET", "/hello", nil)
	if want := "hello from 192.0.2.2:80 over stacknet TCP\n"; string(body) != want {
		t.Errorf("GET /hello: %q, want %q", body, want)
	}
	if reused {
		t.Error("the first request reports a reused connection")
	}
	for i, tc := range []struct {
		method string
		size   int
	}{
		{"POST", 0}, {"POST", 1}, {"POST", 1400}, {"POST", 64 << 10}, {"POST", 4 << 20},
		{"GET", 0}, {"GET", 1}, {"GET", 100 << 10}, {"GET", 4 << 20},
	} {
		t.Run(fmt.Sprintf("%s-%d", tc.method, tc.size), func(t *testing.T) {
			var got []byte
			var resp *http.Response
			if tc.method == "POST" {
				in := make([]byte, tc.size)
				for j := range in {
					in[j] = byte(j*31 + i)
				}
				got, resp, reused = f.do(t, "POST", "/echo", in)
				if !bytes.Equal(got, in) {
					t.Errorf("echo of %d bytes came back as %d different bytes", len(in), len(got))
				}
				if h, want := resp.Header.Get("X-Body-Sha256"), fmt.Sprintf("%x", sha256.Sum256(in)); h != want {
					t.Errorf("the server received a body with sha256 %s, want %s", h, want)
				}
			} else {
				got, _, reused = f.do(t, "GET", "/size/"+strconv.Itoa(tc.size), nil)
				if len(got) != tc.size || !bytes.Equal(got, bytes.Repeat([]byte{'z'}, tc.size)) {
					t.Errorf("GET of %d bytes returned %d", tc.size, len(got))
				}
			}
			if !reused {
				t.Error("the request did not reuse the kept-alive connection")
			}
		})
	}
	if n := f.newConn.Load(); n != 1 {
		t.Errorf("the server saw %d connections, want 1 (keep-alive)", n)
	}
}

// TestHTTPConcurrentClients: 16 clients at once, each with its own
// connection, each making a series of requests.
func TestHTTPConcurrentClients(t *testing.T) {
	f := newHTTPFixture(t, 80)
	f.tr.MaxIdleConnsPerHost = 16
	const clients, requests = 16, 20
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for r := range requests {
				in := []byte(fmt.Sprintf("client %d request %d", c, r))
				resp, err := f.client.Post(f.url+"/echo", "text/plain", bytes.NewReader(in))
				if err != nil {
					t.Errorf("client %d: %v", c, err)
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !bytes.Equal(got, in) {
					t.Errorf("client %d request %d: %q, %v", c, r, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	// A request that finds every connection busy makes the Transport dial,
	// and a connection dialed for a request that another one served in
	// the meantime joins the pool too (as over the kernel), so there may
	// be a few more than 16; most requests must still reuse one.
	if n := f.newConn.Load(); n > 2*clients {
		t.Errorf("the server saw %d connections for %d requests by %d clients: keep-alive did not hold", n, clients*requests, clients)
	}
}

// idleAndBlocked sets up what Close and Shutdown must cope with: idle
// kept-alive connections (from several clients at once) and Serve blocked
// in Accept.
func (f *httpFixture) idleAndBlocked(t *testing.T) {
	t.Helper()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			resp, err := f.client.Get(f.url + "/size/10")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if f.newConn.Load() == 0 {
		t.Fatal("no connection reached the server")
	}
}

// returnsPromptly runs f and fails the test if it does not return within
// hangLimit.
func returnsPromptly[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangLimit):
		t.Fatalf("%s hung", what)
		panic("unreachable")
	}
}

// TestHTTPServerCloseAndShutdown: with idle kept-alive connections and
// Serve blocked in Accept, Server.Close and Server.Shutdown return at
// once, Serve returns http.ErrServerClosed, and a client's next request
// fails (the listener is gone: connection refused) instead of hanging.
func TestHTTPServerCloseAndShutdown(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*http.Server) error
	}{
		{"Close", (*http.Server).Close},
		{"Shutdown", func(s *http.Server) error { return s.Shutdown(context.Background()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newHTTPFixture(t, 80)
			f.idleAndBlocked(t)
			if err := returnsPromptly(t, tc.name, func() error { return tc.stop(f.srv) }); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			if err := returnsPromptly(t, "Serve after "+tc.name, func() error { return <-f.served }); !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
			}
			err := returnsPromptly(t, "a request after "+tc.name, func() error {
				resp, err := f.client.Get(f.url + "/hello")
				if err == nil {
					resp.Body.Close()
				}
				return err
			})
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("request after %s: %v, want ECONNREFUSED", tc.name, err)
			}
		})
	}
}

// TestHTTPShutdownWaitsForActive: Shutdown lets a request in progress
// finish, and returns when it has; Close cuts it off.
func TestHTTPShutdownWaitsForActive(t *testing.T) {
	for _, tc := range []struct {
		name     string
		shutdown bool
	}{{"Shutdown", true}, {"Close", false}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newHTTPFixture(t, 80)
			type result struct {
				body string
				err  error
			}
			got := make(chan result, 1)
			go func() {
				resp, err := f.client.Get(f.url + "/block")
				if err != nil {
					got <- result{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				got <- result{string(b), err}
			}()
			<-f.blocked // the handler is running
			stopped := make(chan error, 1)
			if tc.shutdown {
				go func() { stopped <- f.srv.Shutdown(context.Background()) }()
				// Shutdown waits for the handler; let it finish.
				close(f.release)
				if err := returnsPromptly(t, "Shutdown", func() error { return <-stopped }); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
				r := returnsPromptly(t, "the active request", func() result { return <-got })
				if r.err != nil || r.body != "released" {
					t.Errorf("the request active during Shutdown: %q, %v; want it to complete", r.body, r.err)
				}
			} else {
				if err := returnsPromptly(t, "Close", f.srv.Close); err != nil {
					t.Errorf("Close: %v", err)
				}
				r := returnsPromptly(t, "the active request", func() result { return <-got })
				if r.err == nil {
					t.Errorf("the request active during Close completed (%q); Close should have cut it off", r.body)
				}
				close(f.release)
			}
		})
	}
}

// TestHTTPTestServer: an httptest.Server runs on a stacknet listener in
// place of its own, and its Client dials through the other stack.
func TestHTTPTestServer(t *testing.T) {
	a, b := pair(t, Config{})
	ln, err := b.Listen("tcp", "192.0.2.2:8080")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(httpHandler(nil, nil))
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	defer ts.Close()
	if ts.URL != "http://192.0.2.2:8080" {
		t.Errorf("URL %q", ts.URL)
	}
	c := ts.Client()
	c.Transport.(*http.Transport).DialContext = a.DialContext
	for range 3 {
		resp, err := c.Get(ts.URL + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(body) != "hello from 192.0.2.2:8080 over stacknet TCP\n" {
			t.Fatalf("GET: %s %q %v", resp.Status, body, err)
		}
	}
	returnsPromptly(t, "httptest.Server.Close", func() struct{} { ts.Close(); return struct{}{} })
}
