package golden

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.hex")
	src := "# a comment line\n45 00  00 14 # version, tos, length\n\n0a0b\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := Read(t, path), []byte{0x45, 0, 0, 0x14, 0x0a, 0x0b}; !bytes.Equal(got, want) {
		t.Errorf("Read = % x, want % x", got, want)
	}
	if got := Files(t, dir); len(got) != 1 || got[0] != "p.hex" {
		t.Errorf("Files = %v", got)
	}
}
