package link

import (
	"errors"
	"testing"
)

func TestNull(t *testing.T) {
	d := Null(0)
	if d.MTU() != 1500 || d.Kind() != Ethernet {
		t.Errorf("MTU %d Kind %v, want 1500 ethernet", d.MTU(), d.Kind())
	}
	if Null(9000).MTU() != 9000 {
		t.Errorf("Null(9000).MTU() = %d", Null(9000).MTU())
	}
	checkMAC(t, d.HardwareAddr())
	if n, err := d.WriteFrames([][]byte{frame(60, 1), frame(1514, 2)}); n != 2 || err != nil {
		t.Errorf("WriteFrames = %d, %v; want 2, nil", n, err)
	}
	if s, want := d.(StatsReporter).Stats(), (DeviceStats{TxFrames: 2, TxBytes: 1574}); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
	if n, err := d.ReadFrames(nil, nil); n != 0 || err != nil {
		t.Errorf("ReadFrames with no buffers = %d, %v; want 0, nil", n, err)
	}
	d.Close()
	d.Close()
	bufs, sizes := buffers(1, 1514)
	if _, err := d.ReadFrames(bufs, sizes); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadFrames after Close = %v, want ErrClosed", err)
	}
	if _, err := d.WriteFrames([][]byte{frame(60, 1)}); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteFrames after Close = %v, want ErrClosed", err)
	}
}
