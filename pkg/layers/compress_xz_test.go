package layers

import (
	"archive/tar"
	"bytes"
	"io"
	"os/exec"
	"testing"

	"github.com/dockyard/dockyard/internal/testutil"
)

// The xz fixture comes from xz(1), not from the library that decodes it, so a decoder
// that only understands its own encoder's output would fail here.
func TestDecompressXz(t *testing.T) {
	plain := tarOf(t, []*tar.Header{reg("hello.txt")}, nil)
	bin := testutil.RequireBinary(t, "xz")
	for _, flags := range [][]string{{"-c"}, {"-c", "-9e"}, {"-c", "--check=sha256"}} {
		cmd := exec.Command(bin, flags...)
		cmd.Stdin = bytes.NewReader(plain)
		packed, err := cmd.Output()
		must(t, err)
		rc, got, err := Decompress(bytes.NewReader(packed))
		must(t, err)
		out, err := io.ReadAll(rc)
		must(t, err)
		must(t, rc.Close())
		if got != Xz || !bytes.Equal(out, plain) {
			t.Errorf("xz %v: Decompress = %s, %d bytes; want xz, %d bytes", flags, got, len(out), len(plain))
		}
	}
}

func TestDecompressXzCorrupt(t *testing.T) {
	bin := testutil.RequireBinary(t, "xz")
	cmd := exec.Command(bin, "-c")
	cmd.Stdin = bytes.NewReader(tarOf(t, []*tar.Header{reg("a")}, nil))
	packed, err := cmd.Output()
	must(t, err)
	packed[len(packed)/2] ^= 0xff
	rc, _, err := Decompress(bytes.NewReader(packed))
	if err == nil {
		_, err = io.ReadAll(rc)
		rc.Close()
	}
	if err == nil {
		t.Fatal("a corrupted xz stream decompressed without error")
	}
}

func TestXzIsNotWritable(t *testing.T) {
	if _, err := Xz.MediaType(); err == nil {
		t.Error("Xz has a layer media type; OCI defines none")
	}
}
