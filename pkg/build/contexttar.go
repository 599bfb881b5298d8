package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/dockyard/dockyard/pkg/dockerfile"
	"github.com/dockyard/dockyard/pkg/layers"
)

// ReadContext reads what `builder build -` gets on stdin, as `docker build -` does: a tar
// archive of the build context (plain, gzip, bzip2, xz or zstd), extracted into dir; or
// a bare Dockerfile, returned, with dir left as an empty context. The archive is confined
// to dir, whatever its names and links say.
func ReadContext(ctx context.Context, r io.Reader, dir string) (dockerfileText []byte, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	plain, _, err := layers.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("build context on stdin: %w", err)
	}
	defer plain.Close()
	br := bufio.NewReaderSize(plain, 64<<10)
	head, err := br.Peek(1024)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("build context on stdin: %w", err)
	}
	if _, terr := tar.NewReader(bytes.NewReader(head)).Next(); terr != nil {
		// Not an archive: the Dockerfile itself, with no context.
		dt, err := io.ReadAll(io.LimitReader(br, dockerfile.MaxFileSize+1))
		if err != nil {
			return nil, fmt.Errorf("read Dockerfile from stdin: %w", err)
		}
		if len(dt) > dockerfile.MaxFileSize {
			return nil, fmt.Errorf("the Dockerfile on stdin exceeds maximum allowed size of %d bytes", dockerfile.MaxFileSize)
		}
		return dt, nil
	}
	if err := layers.Extract(ctx, br, dir, layers.ExtractOptions{Whiteouts: layers.WhiteoutsKeep}); err != nil {
		return nil, fmt.Errorf("build context on stdin: %w", err)
	}
	return nil, nil
}
