package runner

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestRunPullsMissingImage: an image only a registry (on 127.0.0.1) has is pulled on
// run, then found locally.
func TestRunPullsMissingImage(t *testing.T) {
	src := newManager(t)
	busybox(t, src, "hello", v1.Config{Cmd: []string{"echo", "pulled and ran"}}, nil)
	img, _, err := src.image("hello")
	if err != nil {
		t.Fatal(err)
	}
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	ref := strings.TrimPrefix(reg.URL, "http://") + "/lib/hello:1"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}

	m := newManager(t)
	var warnings []string
	var out syncBuffer
	res, err := m.Run(context.Background(), RunOptions{Image: ref, AutoRemove: true, Stdout: &out, Warn: func(s string) { warnings = append(warnings, s) }})
	if err != nil || res.ExitCode != 0 || out.String() != "pulled and ran\n" {
		t.Fatalf("run %s: %+v, %v, %q", ref, res, err, out.String())
	}
	if len(warnings) == 0 || !strings.Contains(warnings[0], "pulling") {
		t.Errorf("no pull notice: %q", warnings)
	}
	if _, err := m.Store().Resolve(ref); err != nil {
		t.Errorf("pulled image not stored: %v", err)
	}
	if _, err := m.Run(context.Background(), RunOptions{Image: ref, AutoRemove: true, Pull: "never"}); err != nil {
		t.Errorf("second run (local): %v", err)
	}
}
