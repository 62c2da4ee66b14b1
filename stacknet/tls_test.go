package stacknet

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// crypto/tls and HTTP/2 over the stack: TLS only needs a net.Conn, so a
// stacknet connection carries it unchanged, deadlines and half-close
// included; net/http negotiates h2 over it by ALPN.

// tlsServerName is the name in the test certificate besides 192.0.2.2.
const tlsServerName = "stacknet.test"

// tlsCert makes a self-signed ECDSA P-256 certificate for 192.0.2.2 and
// tlsServerName, and a pool trusting it.
func tlsCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: tlsServerName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{tlsServerName},
		IPAddresses:           []net.IP{addrB.Addr().AsSlice()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// tlsConns connects a TLS client on stack A to a TLS server on stack B
// over one stacknet TCP connection and completes the handshake on both
// ends. The raw server-side TCP connection is returned too.
func tlsConns(t *testing.T, version uint16) (client, server *tls.Conn, rawServer net.Conn) {
	t.Helper()
	a, b := pair(t, Config{})
	cert, pool := tlsCert(t)
	ln, err := b.Listen("tcp", "192.0.2.2:443")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	raw, err := a.DialContext(ctxTimeout(t, hangLimit), "tcp", "192.0.2.2:443")
	if err != nil {
		t.Fatal(err)
	}
	rawServer = <-accepted
	if rawServer == nil {
		t.FailNow()
	}
	client = tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: tlsServerName, MinVersion: version, MaxVersion: version})
	server = tls.Server(rawServer, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: version, MaxVersion: version})
	t.Cleanup(func() { client.Close(); server.Close() })
	var wg sync.WaitGroup
	var serr error
	wg.Go(func() { serr = server.HandshakeContext(ctxTimeout(t, hangLimit)) })
	cerr := client.HandshakeContext(ctxTimeout(t, hangLimit))
	wg.Wait()
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	return client, server, rawServer
}

// tlsPattern is n bytes that differ with seed, so a misplaced byte shows.
func tlsPattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i>>11) ^ seed
	}
	return b
}

var tlsVersions = []struct {
	name    string
	version uint16
}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

// TestTLSHandshakeAndData: the handshake completes with the version
// asked for, the certificate verified for the SNI name, and messages
// from 1 byte to 1 MiB cross both ways intact, one at a time and then
// 8 MiB each way at once.
func TestTLSHandshakeAndData(t *testing.T) {
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			client, server, _ := tlsConns(t, v.version)
			cs, ss := client.ConnectionState(), server.ConnectionState()
			if !cs.HandshakeComplete || !ss.HandshakeComplete || cs.Version != v.version || ss.Version != v.version {
				t.Fatalf("state: client %v/%x, server %v/%x", cs.HandshakeComplete, cs.Version, ss.HandshakeComplete, ss.Version)
			}
			if len(cs.PeerCertificates) != 1 || cs.PeerCertificates[0].Subject.CommonName != tlsServerName {
				t.Errorf("client saw peer certificates %v", cs.PeerCertificates)
			}
			if ss.ServerName != tlsServerName {
				t.Errorf("server saw SNI %q, want %q", ss.ServerName, tlsServerName)
			}
			for _, size := range []int{1, 1400, 16384, 16385, 100_000, 1 << 20} {
				for _, dir := range []struct {
					name     string
					from, to *tls.Conn
				}{{"c2s", client, server}, {"s2c", server, client}} {
					msg := tlsPattern(size, byte(size))
					werr := make(chan error, 1)
					go func() { _, err := dir.from.Write(msg); werr <- err }()
					got := make([]byte, size)
					if _, err := io.ReadFull(dir.to, got); err != nil {
						t.Fatalf("%s %d bytes: read: %v", dir.name, size, err)
					}
					if err := <-werr; err != nil {
						t.Fatalf("%s %d bytes: write: %v", dir.name, size, err)
					}
					if !bytes.Equal(got, msg) {
						t.Fatalf("%s %d bytes: the data arrived changed", dir.name, size)
					}
				}
			}
			// Full duplex: both ends write 8 MiB while reading the other's.
			const n = 8 << 20
			var wg sync.WaitGroup
			for i, c := range []*tls.Conn{client, server} {
				wg.Go(func() {
					if _, err := c.Write(tlsPattern(n, byte(i))); err != nil {
						t.Errorf("duplex write %d: %v", i, err)
					}
				})
				wg.Go(func() {
					h := sha256.New()
					if _, err := io.CopyN(h, c, n); err != nil {
						t.Errorf("duplex read %d: %v", i, err)
						return
					}
					if want := sha256.Sum256(tlsPattern(n, byte(1-i))); !bytes.Equal(h.Sum(nil), want[:]) {
						t.Errorf("duplex read %d: sha256 mismatch", i)
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestTLSCloseWrite: the client's CloseWrite sends close_notify, which the
// server reads as io.EOF after the data; the client can no longer write
// but still reads the server's reply, and the server's Close reaches the
// client as io.EOF too. The TCP connection can then be half-closed under
// TLS as well, and the FIN arrives after the close_notify.
func TestTLSCloseWrite(t *testing.T) {
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			client, server, _ := tlsConns(t, v.version)
			req := []byte("all the client has to say")
			if _, err := client.Write(req); err != nil {
				t.Fatal(err)
			}
			if err := client.CloseWrite(); err != nil {
				t.Fatalf("CloseWrite: %v", err)
			}
			if err := client.NetConn().(*TCPConn).CloseWrite(); err != nil {
				t.Fatalf("TCP CloseWrite under TLS: %v", err)
			}
			if _, err := client.Write([]byte("more")); err == nil {
				t.Error("Write after CloseWrite succeeded")
			}
			server.SetReadDeadline(time.Now().Add(hangLimit))
			got, err := io.ReadAll(server)
			if err != nil || !bytes.Equal(got, req) {
				t.Fatalf("server read %q, %v; want %q and io.EOF (close_notify)", got, err, req)
			}
			if n, err := server.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("server read again after close_notify: %d, %v; want io.EOF", n, err)
			}
			// The reply still gets through the half-open connection.
			reply := tlsPattern(200_000, 9)
			go func() {
				server.Write(reply)
				server.Close()
			}()
			client.SetReadDeadline(time.Now().Add(hangLimit))
			got, err = io.ReadAll(client)
			if err != nil {
				t.Fatalf("client read after its CloseWrite: %v", err)
			}
			if !bytes.Equal(got, reply) {
				t.Fatalf("client read %d bytes, want the %d-byte reply", len(got), len(reply))
			}
		})
	}
}

// TestTLSDeadlines: deadlines set on a tls.Conn reach the stacknet
// connection under it. A read deadline fails Read with a net.Error whose
// Timeout is true (and os.ErrDeadlineExceeded), and the connection reads
// again once the deadline is moved; a write deadline in the past fails
// Write the same way; a server handshake with a silent client times out.
func TestTLSDeadlines(t *testing.T) {
	isTimeout := func(t *testing.T, what string, err error) {
		t.Helper()
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: %v (%T), want a net.Error timeout wrapping os.ErrDeadlineExceeded", what, err, err)
		}
	}
	t.Run("Read", func(t *testing.T) {
		client, server, _ := tlsConns(t, tls.VersionTLS13)
		client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := client.Read(make([]byte, 10))
		if n != 0 {
			t.Errorf("Read returned %d bytes nobody sent", n)
		}
		isTimeout(t, "Read past its deadline", err)
		// A read timeout is not fatal to TLS: with the deadline cleared,
		// the connection carries data again.
		client.SetReadDeadline(time.Time{})
		if _, err := server.Write([]byte("late")); err != nil {
			t.Fatal(err)
		}
		client.SetReadDeadline(time.Now().Add(hangLimit))
		got := make([]byte, 4)
		if _, err := io.ReadFull(client, got); err != nil || string(got) != "late" {
			t.Errorf("read after a timeout: %q, %v", got, err)
		}
	})
	t.Run("Write", func(t *testing.T) {
		client, _, _ := tlsConns(t, tls.VersionTLS13)
		client.SetWriteDeadline(time.Now().Add(-time.Second))
		_, err := client.Write([]byte("x"))
		isTimeout(t, "Write past its deadline", err)
		// crypto/tls: after a write timeout all later writes fail too.
		client.SetWriteDeadline(time.Time{})
		if _, err := client.Write([]byte("x")); err == nil {
			t.Error("Write after a write timeout succeeded")
		}
	})
	t.Run("Handshake", func(t *testing.T) {
		a, b := pair(t, Config{})
		cert, _ := tlsCert(t)
		ln, err := b.Listen("tcp", "192.0.2.2:443")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		raw, err := a.Dial("tcp", "192.0.2.2:443")
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close() // says nothing: no ClientHello
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		server := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{cert}})
		defer server.Close()
		server.SetDeadline(time.Now().Add(50 * time.Millisecond))
		isTimeout(t, "server handshake with a silent client", server.Handshake())
	})
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// TestHTTP2ALPN: an http.Server serving TLS on a stacknet listener offers
// h2 and http/1.1 by ALPN. Clients dialing through the stack (by
// DialContext with the Transport's own TLS, or by DialTLSContext) get the
// protocol they both support; over h2, 100 requests in flight at once
// (each handler waits until all 100 have arrived) share one connection.
func TestHTTP2ALPN(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dialTLS   bool
		protos    []string // client's ALPN offer for DialTLSContext; nil: Transport's own
		wantProto string
	}{
		{"DialContext", false, nil, "HTTP/2.0"},
		{"DialTLSContext", true, []string{"h2", "http/1.1"}, "HTTP/2.0"},
		{"DialTLSContext-http1.1", true, []string{"http/1.1"}, "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pair(t, Config{})
			cert, pool := tlsCert(t)
			tln, err := b.Listen("tcp", "192.0.2.2:443")
			if err != nil {
				t.Fatal(err)
			}
			ln := &countingListener{Listener: tln}
			const streams = 100
			var arrived atomic.Int64
			all := make(chan struct{})
			mux := http.NewServeMux()
			mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "%s", r.Proto)
			})
			mux.HandleFunc("GET /wait", func(w http.ResponseWriter, r *http.Request) {
				if arrived.Add(1) == streams {
					close(all)
				}
				select {
				case <-all:
				case <-time.After(hangLimit):
					http.Error(w, "not all requests arrived together", http.StatusGatewayTimeout)
					return
				}
				w.Write(tlsPattern(10_000, byte(len(r.URL.RawQuery))))
			})
			srv := &http.Server{
				Handler:   mux,
				TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
			}
			served := make(chan error, 1)
			go func() { served <- srv.ServeTLS(ln, "", "") }()
			tr := &http.Transport{
				ForceAttemptHTTP2: true,
				DialContext:       a.DialContext,
				TLSClientConfig:   &tls.Config{RootCAs: pool},
			}
			if tc.dialTLS {
				tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					raw, err := a.DialContext(ctx, network, addr)
					if err != nil {
						return nil, err
					}
					c := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: tlsServerName, NextProtos: tc.protos})
					if err := c.HandshakeContext(ctx); err != nil {
						raw.Close()
						return nil, err
					}
					return c, nil
				}
			}
			client := &http.Client{Transport: tr, Timeout: time.Minute}
			defer func() {
				tr.CloseIdleConnections()
				if err := returnsPromptly(t, "Server.Close", srv.Close); err != nil {
					t.Errorf("Close: %v", err)
				}
				if err := <-served; !errors.Is(err, http.ErrServerClosed) {
					t.Errorf("ServeTLS: %v", err)
				}
			}()
			get := func(path string) (*http.Response, []byte, error) {
				resp, err := client.Get("https://192.0.2.2" + path)
				if err != nil {
					return nil, nil, err
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				return resp, body, err
			}
			// One request first, so the connection exists before the rest
			// go out at once.
			resp, body, err := get("/hello")
			if err != nil {
				t.Fatal(err)
			}
			if resp.Proto != tc.wantProto || string(body) != tc.wantProto {
				t.Fatalf("client saw %s, server saw %q; want %s", resp.Proto, body, tc.wantProto)
			}
			if tc.wantProto != "HTTP/2.0" {
				return
			}
			if resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
				t.Errorf("ALPN: %+v", resp.TLS)
			}
			var wg sync.WaitGroup
			for i := range streams {
				wg.Go(func() {
					q := "?" + string(bytes.Repeat([]byte{'q'}, i))
					resp, body, err := get("/wait" + q)
					if err != nil {
						t.Errorf("request %d: %v", i, err)
						return
					}
					if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/2.0" || !bytes.Equal(body, tlsPattern(10_000, byte(i))) {
						t.Errorf("request %d: %s %s, %d bytes", i, resp.Status, resp.Proto, len(body))
					}
				})
			}
			wg.Wait()
			if n := arrived.Load(); n != streams {
				t.Errorf("%d requests reached the handler, want %d", n, streams)
			}
			if n := ln.accepted.Load(); n != 1 {
				t.Errorf("the server accepted %d connections, want 1 for all %d streams", n, streams+1)
			}
		})
	}
}

// TestHTTP2TestServer: an httptest.Server with EnableHTTP2, started with
// TLS on a stacknet listener, serves its Client over h2 through the stack.
func TestHTTP2TestServer(t *testing.T) {
	a, b := pair(t, Config{})
	ln, err := b.Listen("tcp", "192.0.2.2:8443")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	ts.Listener.Close()
	ts.Listener = ln
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()
	if want := "https://" + netip.AddrPortFrom(addrB.Addr(), 8443).String(); ts.URL != want {
		t.Errorf("URL %q, want %q", ts.URL, want)
	}
	c := ts.Client()
	tr := c.Transport.(*http.Transport)
	tr.DialContext = a.DialContext
	// httptest's certificate names example.com, not 192.0.2.2.
	tr.TLSClientConfig.ServerName = "example.com"
	for range 3 {
		resp, err := c.Get(ts.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.Proto != "HTTP/2.0" || string(body) != "HTTP/2.0" {
			t.Fatalf("GET: %s %s %q %v", resp.Status, resp.Proto, body, err)
		}
	}
	returnsPromptly(t, "httptest.Server.Close", func() struct{} { ts.Close(); return struct{}{} })
}
