package stacknet

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
)

// The helpers in this file move a deterministic pseudo-random byte stream
// over a TCP connection and check it end to end with SHA-256 and a byte
// count. The interop and nettest files use them too.

// envImpairBytes sets the size of the impaired transfer, each way; `make
// soak` sets it to 256 MiB. It takes a byte count with an optional KiB,
// MiB or GiB suffix.
const envImpairBytes = "STACKNET_IMPAIR_BYTES"

// impairedTransferDefault is the size of the impaired transfer in `make
// test`: enough for thousands of losses, reorderings and duplicates each
// way, and quick under the race detector.
const impairedTransferDefault = 16 << 20

// parseByteSize parses "16777216", "16MiB", "512KiB" or "1GiB".
func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%q is not a byte count such as 16777216, 512KiB or 256MiB", s)
	}
	return n * mult, nil
}

// sizeFromEnv returns the byte count in the environment variable name,
// or def when it is unset.
func sizeFromEnv(t testing.TB, name string, def int64) int64 {
	t.Helper()
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	n, err := parseByteSize(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"16777216", 16 << 20, true},
		{"512KiB", 512 << 10, true},
		{"256MiB", 256 << 20, true},
		{" 1GiB ", 1 << 30, true},
		{"", 0, false},
		{"-1", 0, false},
		{"1.5MiB", 0, false},
		{"MiB", 0, false},
		{"16MB", 0, false},
		{"99999999999GiB", 0, false},
	} {
		got, err := parseByteSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// halfCloser is a stream connection that can shut down its sending side:
// a *TCPConn or a *net.TCPConn.
type halfCloser interface {
	net.Conn
	CloseWrite() error
}

// streamResult is what one side of a transfer saw: the bytes it sent or
// received, and their SHA-256.
type streamResult struct {
	n   int64
	sum [sha256.Size]byte
	err error
}

// sendStream writes n pseudo-random bytes from seed to c in chunks of
// varied sizes (so that writes straddle segment boundaries), then closes
// c's sending side.
func sendStream(c halfCloser, seed uint64, n int64) streamResult {
	src := rand.NewChaCha8([32]byte{0: byte(seed), 1: byte(seed >> 8), 2: byte(seed >> 16), 3: byte(seed >> 24)})
	sizes := rand.New(rand.NewPCG(seed, 1))
	h := sha256.New()
	buf := make([]byte, 256<<10)
	var sent int64
	for sent < n {
		chunk := buf[:min(int64(1+sizes.IntN(len(buf))), n-sent)]
		src.Read(chunk)
		h.Write(chunk)
		w, err := c.Write(chunk)
		sent += int64(w)
		if err != nil {
			return streamResult{n: sent, err: fmt.Errorf("write after %d bytes: %w", sent, err)}
		}
		if w != len(chunk) {
			return streamResult{n: sent, err: fmt.Errorf("short write (%d of %d) after %d bytes with no error", w, len(chunk), sent)}
		}
	}
	var r streamResult
	r.n = sent
	copy(r.sum[:], h.Sum(nil))
	if err := c.CloseWrite(); err != nil {
		r.err = fmt.Errorf("CloseWrite after %d bytes: %w", sent, err)
	}
	return r
}

// recvStream reads c to EOF and hashes what it read.
func recvStream(c net.Conn) streamResult {
	h := sha256.New()
	buf := make([]byte, 128<<10)
	var r streamResult
	for {
		n, err := c.Read(buf)
		h.Write(buf[:n])
		r.n += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			r.err = fmt.Errorf("read after %d bytes: %w", r.n, err)
			break
		}
	}
	copy(r.sum[:], h.Sum(nil))
	return r
}

// transferBoth sends n bytes from x to y and, at the same time, n bytes
// from y to x, each followed by a half-close, and checks that each side
// received exactly what the other sent. It returns when all four
// directions finished.
func transferBoth(t testing.TB, x, y halfCloser, n int64) {
	t.Helper()
	var wg sync.WaitGroup
	var sentX, sentY, gotX, gotY streamResult
	wg.Go(func() { sentX = sendStream(x, 1, n) })
	wg.Go(func() { sentY = sendStream(y, 2, n) })
	wg.Go(func() { gotY = recvStream(y) })
	wg.Go(func() { gotX = recvStream(x) })
	wg.Wait()
	checkStream(t, x.LocalAddr().String()+" -> "+y.LocalAddr().String(), sentX, gotY)
	checkStream(t, y.LocalAddr().String()+" -> "+x.LocalAddr().String(), sentY, gotX)
}

// checkStream compares what one side sent with what the other received.
func checkStream(t testing.TB, dir string, sent, got streamResult) {
	t.Helper()
	if sent.err != nil {
		t.Errorf("%s: sender: %v", dir, sent.err)
	}
	if got.err != nil {
		t.Errorf("%s: receiver: %v", dir, got.err)
	}
	if sent.err != nil || got.err != nil {
		return
	}
	if got.n != sent.n {
		t.Errorf("%s: sent %d bytes, received %d", dir, sent.n, got.n)
	} else if !bytes.Equal(got.sum[:], sent.sum[:]) {
		t.Errorf("%s: %d bytes arrived with the wrong content: sha256 %x, sent %x", dir, got.n, got.sum, sent.sum)
	}
}

// transferDeadline is when a transfer of n bytes gives up, so that a
// stalled connection fails the test with its error rather than hanging it:
// the test's own deadline less a margin, or a generous 1 MB/s bound.
func transferDeadline(t testing.TB, n int64) time.Time {
	d := time.Now().Add(2*time.Minute + time.Duration(n/(1<<20))*time.Second)
	if td, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := td.Deadline(); ok && end.Add(-30*time.Second).Before(d) {
			d = end.Add(-30 * time.Second)
		}
	}
	return d
}

// dialAccept dials ln with dial and returns both ends: the dialed one
// and the accepted one.
func dialAccept(ln net.Listener, dial func() (net.Conn, error)) (dialed, accepted net.Conn, err error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	dialed, err = dial()
	if err != nil {
		// The Accept goroutine ends when the caller closes ln.
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	r := <-ch
	if r.err != nil {
		dialed.Close()
		return nil, nil, fmt.Errorf("accept: %w", r.err)
	}
	return dialed, r.c, nil
}

// The impairment of the issue: every frame, each way, is lost with 5%
// probability, reordered with 2%, duplicated with 1% and has a bit
// flipped with 0.1%.
var lossyWire = link.Impairment{Loss: 0.05, Reorder: 0.02, Duplicate: 0.01, Corrupt: 0.001}

// TestTCPImpairedTransfer moves STACKNET_IMPAIR_BYTES (16 MiB unless set)
// each way, at the same time, over one connection through a wire that
// loses, reorders, duplicates and corrupts frames, and demands every byte
// arrive exactly once and in order. `make soak` runs it with 256 MiB.
func TestTCPImpairedTransfer(t *testing.T) {
	n := sizeFromEnv(t, envImpairBytes, impairedTransferDefault)
	da, db := link.Pipe(1500)
	ia := link.Impair(da, 1, lossyWire, link.Impairment{})
	ib := link.Impair(db, 2, lossyWire, link.Impairment{})
	a, b := pairOn(t, Config{}, ia, ib)

	ln, err := b.Listen("tcp", "192.0.2.2:5001")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed, accepted, err := dialAccept(ln, func() (net.Conn, error) {
		return a.DialContext(ctxTimeout(t, time.Minute), "tcp", "192.0.2.2:5001")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer dialed.Close()
	defer accepted.Close()
	x, y := dialed.(*TCPConn), accepted.(*TCPConn)
	deadline := transferDeadline(t, n)
	x.SetDeadline(deadline)
	y.SetDeadline(deadline)

	start := time.Now()
	transferBoth(t, x, y, n)
	elapsed := time.Since(start)

	outA, _ := ia.Stats()
	outB, _ := ib.Stats()
	for _, w := range []struct {
		name string
		st   link.ImpairStats
	}{{"A->B", outA}, {"B->A", outB}} {
		if w.st.Dropped == 0 || w.st.Reordered == 0 || w.st.Duplicated == 0 {
			t.Errorf("the wire %s did not impair: %+v", w.name, w.st)
		}
		t.Logf("wire %s: %+v", w.name, w.st)
	}
	if outA.Corrupted+outB.Corrupted == 0 && n >= impairedTransferDefault {
		t.Errorf("no frame was corrupted in %d frames", outA.Frames+outB.Frames)
	}
	t.Logf("%d bytes each way in %v (%.1f MB/s each way)", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds()/1e6)
	t.Logf("A: %+v", a.Stats())
	t.Logf("B: %+v", b.Stats())
}

// TestTCPTransferClean is the same transfer over a perfect wire, at both
// MTUs the benchmarks use: a baseline that separates a bug in recovery
// from one in the data path.
func TestTCPTransferClean(t *testing.T) {
	for _, mtu := range []int{1500, 65000} {
		t.Run(strconv.Itoa(mtu), func(t *testing.T) {
			da, db := link.Pipe(mtu)
			a, b := pairOn(t, Config{}, da, db)
			ln, err := b.Listen("tcp", "192.0.2.2:5002")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			dialed, accepted, err := dialAccept(ln, func() (net.Conn, error) { return a.Dial("tcp", "192.0.2.2:5002") })
			if err != nil {
				t.Fatal(err)
			}
			defer dialed.Close()
			defer accepted.Close()
			const n = 8 << 20
			deadline := transferDeadline(t, n)
			dialed.SetDeadline(deadline)
			accepted.SetDeadline(deadline)
			transferBoth(t, dialed.(*TCPConn), accepted.(*TCPConn), n)
			if t.Failed() {
				t.Logf("A: %+v\nB: %+v", a.Stats(), b.Stats())
			}
		})
	}
}
