package link

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapClock returns a clock that starts at start and moves on by step at
// every reading.
func pcapClock(start time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	t := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now := t
		t = t.Add(step)
		return now
	}
}

// pcapRecord is what a test expects of one record.
type pcapRecord struct {
	t    time.Time
	data []byte
}

// pcapCheck parses file and compares it with want.
func pcapCheck(t *testing.T, file []byte, lt layers.LinkType, snaplen int, want []pcapRecord) {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("pcapgo.NewReader: %v", err)
	}
	if r.LinkType() != lt || r.Snaplen() != uint32(snaplen) {
		t.Fatalf("link type %v, snaplen %d; want %v, %d", r.LinkType(), r.Snaplen(), lt, snaplen)
	}
	for i, w := range want {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		incl := min(len(w.data), snaplen)
		if !ci.Timestamp.Equal(w.t.Truncate(time.Microsecond)) {
			t.Errorf("record %d: time %v, want %v", i, ci.Timestamp, w.t.Truncate(time.Microsecond))
		}
		if ci.CaptureLength != incl || ci.Length != len(w.data) || !bytes.Equal(data, w.data[:incl]) {
			t.Errorf("record %d: caplen %d len %d, want %d %d (data equal: %v)", i, ci.CaptureLength, ci.Length, incl, len(w.data), bytes.Equal(data, w.data[:incl]))
		}
	}
	if _, _, err := r.ReadPacketData(); err != io.EOF {
		t.Errorf("after %d records: %v, want io.EOF", len(want), err)
	}
}

func TestCapture(t *testing.T) {
	start := time.Date(2024, 2, 29, 12, 0, 0, 123_456_789, time.UTC)
	const step = 1500*time.Microsecond + 7 // nanoseconds are cut to µs
	tests := []struct {
		name        string
		kind        Kind
		snaplen     int
		wantSnaplen int
		linkType    layers.LinkType
	}{
		{"ethernet", Ethernet, 0, 262144, layers.LinkTypeEthernet},
		{"ip", IP, 0, 262144, layers.LinkTypeRaw},
		{"truncated", Ethernet, 64, 64, layers.LinkTypeEthernet},
		{"tiny", IP, 1, 1, layers.LinkTypeRaw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newImpairFake(tt.kind)
			var file bytes.Buffer
			c, err := Capture(f, &file, tt.snaplen, CaptureClock(pcapClock(start, step)))
			if err != nil {
				t.Fatal(err)
			}
			if c.MTU() != f.MTU() || c.Kind() != tt.kind || !bytes.Equal(c.HardwareAddr(), f.HardwareAddr()) {
				t.Errorf("MTU/Kind/HardwareAddr not passed through")
			}
			out := [][]byte{impairFrame(0, 60), impairFrame(1, 1514), impairFrame(2, 20)}
			if n, err := c.WriteFrames(out); n != 3 || err != nil {
				t.Fatalf("WriteFrames = %d, %v", n, err)
			}
			in := []byte("\x45an ip datagram, or a frame, as it comes")
			f.feed(in)
			bufs, sizes := [][]byte{make([]byte, 1514)}, []int{0}
			if n, err := c.ReadFrames(bufs, sizes); n != 1 || err != nil || !bytes.Equal(bufs[0][:sizes[0]], in) {
				t.Fatalf("ReadFrames = %d, %v", n, err)
			}
			if sent, _ := f.snapshot(); len(sent) != 3 {
				t.Fatalf("device got %d frames", len(sent))
			}
			// One clock reading per batch.
			pcapCheck(t, file.Bytes(), tt.linkType, tt.wantSnaplen, []pcapRecord{
				{start, out[0]}, {start, out[1]}, {start, out[2]}, {start.Add(step), in},
			})
			if err := c.Err(); err != nil {
				t.Errorf("Err = %v", err)
			}
		})
	}
}

func TestCaptureHeaderBytes(t *testing.T) {
	var file bytes.Buffer
	if _, err := Capture(newImpairFake(IP), &file, 1000); err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0xd4, 0xc3, 0xb2, 0xa1, // magic, microseconds
		2, 0, 4, 0, // version 2.4
		0, 0, 0, 0, // thiszone
		0, 0, 0, 0, // sigfigs
		0xe8, 0x03, 0, 0, // snaplen 1000
		101, 0, 0, 0, // LINKTYPE_RAW
	}
	if !bytes.Equal(file.Bytes(), want) {
		t.Errorf("header\n% x\nwant\n% x", file.Bytes(), want)
	}
}

func TestCaptureErrors(t *testing.T) {
	odd := newImpairFake(Kind(7))
	tests := []struct {
		name    string
		dev     Device
		w       io.Writer
		snaplen int
	}{
		{"negative snaplen", newImpairFake(Ethernet), io.Discard, -1},
		{"unknown kind", odd, io.Discard, 0},
		{"header write", newImpairFake(Ethernet), &pcapWriter{failAt: 1}, 0},
		{"short header write", newImpairFake(Ethernet), &pcapWriter{short: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := Capture(tt.dev, tt.w, tt.snaplen); err == nil || c != nil {
				t.Errorf("Capture = %v, %v; want an error", c, err)
			}
		})
	}
}

// pcapWriter fails its failAt-th Write (counting from 1), or writes short.
type pcapWriter struct {
	mu     sync.Mutex
	calls  int
	failAt int
	short  bool
	closed bool
	buf    bytes.Buffer
}

var errPcapWriter = errors.New("pcapWriter: disk full")

func (w *pcapWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	if w.calls == w.failAt {
		return 0, errPcapWriter
	}
	if w.short {
		return len(b) - 1, nil
	}
	return w.buf.Write(b)
}

func (w *pcapWriter) Close() error {
	w.closed = true
	return nil
}

func TestCaptureWriteFailure(t *testing.T) {
	f := newImpairFake(Ethernet)
	w := &pcapWriter{failAt: 3} // the header, one record, then failure
	at := time.Unix(1_700_000_000, 5000)
	c, err := Capture(f, w, 0, CaptureClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	frames := [][]byte{impairFrame(0, 60), impairFrame(1, 60), impairFrame(2, 60)}
	if n, err := c.WriteFrames(frames); n != 3 || err != nil {
		t.Fatalf("WriteFrames = %d, %v", n, err)
	}
	if !errors.Is(c.Err(), errPcapWriter) {
		t.Errorf("Err = %v, want %v", c.Err(), errPcapWriter)
	}
	// Frames keep flowing; the file is left alone.
	if n, err := c.WriteFrames(frames); n != 3 || err != nil {
		t.Fatalf("WriteFrames after failure = %d, %v", n, err)
	}
	f.feed(frames[0])
	if n, err := c.ReadFrames([][]byte{make([]byte, 1514)}, []int{0}); n != 1 || err != nil {
		t.Fatalf("ReadFrames after failure = %d, %v", n, err)
	}
	if sent, _ := f.snapshot(); len(sent) != 6 {
		t.Errorf("device got %d frames, want 6", len(sent))
	}
	if w.calls != 3 {
		t.Errorf("%d writes to a failed file, want 3", w.calls)
	}
	// The file up to the failure is still readable.
	pcapCheck(t, w.buf.Bytes(), layers.LinkTypeEthernet, 262144, []pcapRecord{{at, frames[0]}})
}

func TestCaptureShortWrite(t *testing.T) {
	w := &pcapWriter{}
	c, err := Capture(newImpairFake(Ethernet), w, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.short = true
	c.WriteFrames([][]byte{impairFrame(0, 60)})
	if !errors.Is(c.Err(), io.ErrShortWrite) {
		t.Errorf("Err = %v, want io.ErrShortWrite", c.Err())
	}
}

func TestCaptureClose(t *testing.T) {
	f := newImpairFake(Ethernet)
	w := &pcapWriter{}
	c, err := Capture(f, w, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if f.closeCnt != 1 || w.closed {
		t.Errorf("device closed %d times, writer closed %v; want 1, false", f.closeCnt, w.closed)
	}
	if _, err := c.WriteFrames([][]byte{impairFrame(0, 60)}); err != ErrClosed {
		t.Errorf("WriteFrames after Close: %v, want ErrClosed", err)
	}
}

func TestCaptureConcurrent(t *testing.T) {
	f := newImpairFake(Ethernet)
	f.discard = true
	var file bytes.Buffer
	c, err := Capture(f, &file, 0)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := w*each + i
				c.WriteFrames([][]byte{impairFrame(id, 60+id%100)})
			}
		})
	}
	wg.Wait()
	r, err := pcapgo.NewReader(&file)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[int]bool)
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d records: %v", len(seen), err)
		}
		id := impairID(data)
		if seen[id] || !bytes.Equal(data, impairFrame(id, ci.Length)) {
			t.Fatalf("record for frame %d repeated or damaged", id)
		}
		seen[id] = true
	}
	if len(seen) != writers*each {
		t.Errorf("%d records, want %d", len(seen), writers*each)
	}
}

func TestCaptureAllocs(t *testing.T) {
	f := newImpairFake(Ethernet)
	f.discard, f.genSize = true, func(int) int { return 1514 }
	c, err := Capture(f, io.Discard, 0)
	if err != nil {
		t.Fatal(err)
	}
	frames := [][]byte{impairFrame(0, 1514), impairFrame(1, 60)}
	bufs, sizes := [][]byte{make([]byte, 1514), make([]byte, 1514)}, []int{0, 0}
	if a := testing.AllocsPerRun(1000, func() { c.WriteFrames(frames) }); a != 0 {
		t.Errorf("WriteFrames: %v allocations, want 0", a)
	}
	if a := testing.AllocsPerRun(1000, func() {
		f.gen = 2
		c.ReadFrames(bufs, sizes)
	}); a != 0 {
		t.Errorf("ReadFrames: %v allocations, want 0", a)
	}
}

// If tcpdump is installed, it must read our files.
func TestCaptureTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed")
	}
	for _, kind := range []Kind{Ethernet, IP} {
		t.Run(kind.String(), func(t *testing.T) {
			var file bytes.Buffer
			c, err := Capture(newImpairFake(kind), &file, 0)
			if err != nil {
				t.Fatal(err)
			}
			// An IPv4 header (RFC 791) so the records decode as something.
			ip := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2}
			frame := ip
			if kind == Ethernet {
				frame = append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}, ip...)
			}
			c.WriteFrames([][]byte{frame, frame})
			path := filepath.Join(t.TempDir(), "capture.pcap")
			if err := os.WriteFile(path, file.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(tcpdump, "-n", "-r", path).CombinedOutput()
			if err != nil {
				t.Fatalf("tcpdump -r: %v\n%s", err, out)
			}
			if got := strings.Count(string(out), "192.0.2.1 > 192.0.2.2"); got != 2 {
				t.Errorf("tcpdump showed %d packets:\n%s", got, out)
			}
		})
	}
}

func BenchmarkCapturedWrite(b *testing.B) {
	f := newImpairFake(Ethernet)
	f.discard = true
	c, err := Capture(f, io.Discard, 0)
	if err != nil {
		b.Fatal(err)
	}
	frames := [][]byte{impairFrame(0, 1514)}
	b.SetBytes(1514)
	b.ReportAllocs()
	for b.Loop() {
		c.WriteFrames(frames)
	}
}
