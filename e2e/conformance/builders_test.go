package conformance

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// buildahEnv runs Debian's buildah with everything it writes kept in one temp dir: its
// storage (--root, --runroot), and, through overlays in a private mount namespace, the
// files it would otherwise create under /etc (network locks) and /var (blob-info cache,
// /var/tmp/buildah-cache of cache mounts). The host's /etc and /var are never written,
// and every mount buildah makes dies with its namespace.
type buildahEnv struct {
	bin string
	dir string
}

// buildahScript is run by sh in the new mount namespace: $1 is the env's dir.
const buildahScript = `set -e
d=$1; shift
for top in etc var; do
	mkdir -p "$d/ovl/$top-upper" "$d/ovl/$top-work"
	mount -t overlay overlay -o "lowerdir=/$top,upperdir=$d/ovl/$top-upper,workdir=$d/ovl/$top-work" "/$top"
done
export TMPDIR="$d/tmp"
mkdir -p "$TMPDIR"
exec "$BUILDAH" --root "$d/root" --runroot "$d/runroot" --storage-driver overlay "$@"
`

func (b *buildahEnv) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", append([]string{"-c", buildahScript, "sh", b.dir}, args...)...)
	cmd.Env = append(os.Environ(), "BUILDAH="+b.bin)
	// Go makes / rprivate in the new namespace, so nothing propagates to the host.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	return cmd
}

func (b *buildahEnv) run(args ...string) (string, error) {
	cmd := b.cmd(args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("buildah %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// importBase makes the busybox image of ours (an OCI layout) buildah's busybox too.
func (b *buildahEnv) importBase(layout string) error {
	if _, err := b.run("pull", "oci:"+layout+":docker.io/library/busybox:latest"); err != nil {
		return err
	}
	out, err := b.run("images", "--noheading", "--format", "{{.ID}}")
	if err != nil {
		return err
	}
	id := strings.TrimSpace(out)
	_, err = b.run("tag", id, "docker.io/library/busybox:latest")
	return err
}

// build builds with buildah and exports the image to a dir: copy. Docker format keeps
// HEALTHCHECK, ONBUILD and SHELL, which buildah drops from OCI configs.
func (b *buildahEnv) build(name, dockerfile, contextDir, outDir string, args, env []string) (string, error) {
	full := append([]string{"build", "--layers", "--no-cache", "--isolation", "chroot", "--pull=never",
		"--format", "docker", "-t", "localhost/" + name, "-f", dockerfile}, args...)
	full = append(full, contextDir)
	var out bytes.Buffer
	for attempt := 1; ; attempt++ {
		out.Reset()
		cmd := b.cmd(full...)
		cmd.Env = append(cmd.Env, env...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err == nil {
			break
		}
		// buildah copies its own binary into a sealed memfd to re-exec itself for each
		// RUN, and F_ADD_SEALS fails with EBUSY while the kernel still holds a writable
		// reference to the copy's pages: a transient failure of the peer's machinery,
		// not an answer about the Dockerfile (seen once in some 1,400 builds here).
		if attempt < 3 && strings.Contains(out.String(), "sealing memfd copy: Device or resource busy") {
			continue
		}
		return out.String(), fmt.Errorf("buildah build: %w", err)
	}
	if outDir == "" {
		return out.String(), nil
	}
	if s, err := b.run("push", "localhost/"+name, "dir:"+outDir); err != nil {
		return out.String() + s, err
	}
	return out.String(), nil
}

// ours is our builder with one store per case.
type ours struct {
	bin   string
	store string
}

func (o *ours) run(env []string, args ...string) (string, error) {
	return o.runInput(nil, env, args...)
}

func (o *ours) runInput(stdin io.Reader, env []string, args ...string) (string, error) {
	cmd := exec.Command(o.bin, append([]string{"--root", o.store}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("builder %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// build builds dockerfile in contextDir; input "tar" sends the context as a tarball on
// stdin (the Dockerfile too, inside it, as docker requires), "dockerfile" the Dockerfile.
func (o *ours) build(name, dockerfile, contextDir, input string, args, env []string) (string, error) {
	full := append([]string{"build", "--progress", "plain", "-t", name}, args...)
	var stdin io.Reader
	switch input {
	case "tar":
		data, err := tarContext(contextDir, dockerfile)
		if err != nil {
			return "", err
		}
		stdin = bytes.NewReader(data)
		return o.runInput(stdin, env, append(full, "-f", "Dockerfile.stdin", "-")...)
	case "dockerfile":
		f, err := os.Open(dockerfile)
		if err != nil {
			return "", err
		}
		defer f.Close()
		return o.runInput(f, env, append(full, "-f", "-", contextDir)...)
	}
	return o.run(env, append(full, "-f", dockerfile, contextDir)...)
}

// tarContext tars a context directory, with the Dockerfile added as Dockerfile.stdin.
func tarContext(dir, dockerfile string) ([]byte, error) {
	cmd := exec.Command("tar", "-C", dir, "-c", ".")
	data, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tar %s: %w", dir, err)
	}
	df, err := os.ReadFile(dockerfile)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile.stdin", Mode: 0o644, Size: int64(len(df)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	tw.Write(df)
	tw.Flush() // no end-of-archive: the context's entries follow
	// Both streams are tar: the added entry first, then the context's whole archive;
	// gzip'ed, as `docker build - < context.tar.gz` accepts.
	buf.Write(data)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return gz.Bytes(), nil
}

func (o *ours) layout() string { return filepath.Join(o.store, "oci") }
