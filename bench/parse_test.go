package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistryUploads(t *testing.T) {
	log := filepath.Join(t.TempDir(), "registry.log")
	lines := []string{
		`level=info msg="response completed" http.request.method=PUT http.request.uri="/v2/ours-0/big/blobs/uploads/3f2a?digest=sha256%3Aab" http.response.status=201`,
		`level=info msg="response completed" http.request.method=PATCH http.request.uri="/v2/ours-0/big/blobs/uploads/3f2a" http.response.status=202`,
		`level=info msg="response completed" http.request.method=PUT http.request.uri="/v2/ours-0/big/manifests/1" http.response.status=201`,
		`level=error msg="response completed with error" http.request.method=PUT http.request.uri="/v2/a/blobs/uploads/9?digest=x" http.response.status=400`,
		`level=info msg="response completed" http.request.method=PUT http.request.uri=/v2/blobs/blobs/uploads/77 http.response.status=201`,
	}
	if err := os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &registry{log: log}
	n, end := r.uploads(0)
	if n != 2 {
		t.Errorf("uploads = %d, want 2 (committed blob PUTs only, not PATCH, manifests or errors)", n)
	}
	if end != r.size() {
		t.Errorf("end offset %d, log size %d", end, r.size())
	}
	if n, _ := r.uploads(end); n != 0 {
		t.Errorf("uploads after the end = %d", n)
	}
}

func TestCountChanged(t *testing.T) {
	if n := countChanged([]string{"a", "b", "c"}, []string{"a", "x", "c", "y"}); n != 2 {
		t.Errorf("countChanged = %d, want 2", n)
	}
	if n := countChanged(nil, []string{"a"}); n != 1 {
		t.Errorf("countChanged from nothing = %d, want 1", n)
	}
}

const sampleGoBench = `pkg: github.com/dockyard/dockyard/pkg/layers
BenchmarkWriteLayerGzip/level=0-2         	       5	 900000000 ns/op	 232.10 MB/s	         0.4010 ratio
BenchmarkWriteLayerZstd/level=0-2         	       5	 400000000 ns/op	 522.00 MB/s	         0.3800 ratio
BenchmarkWriteLayerNone-2                 	       5	 200000000 ns/op	1044.50 MB/s	         1.001 ratio
BenchmarkWriteLayerStdlibGzip/level=-1-2  	       5	4000000000 ns/op	  52.20 MB/s	         0.3500 ratio
BenchmarkStepSnapshot/layers=1/files=100-2 	      5	   2951604 ns/op	       100.0 lower-files
BenchmarkStepSnapshotDirtyDisk-2          	       5	  21123992 ns/op
`

func TestParseGoBench(t *testing.T) {
	res := parseGoBench(sampleGoBench)
	if r := res["BenchmarkWriteLayerGzip/level=0"]; r.mbPerS != 232.1 || r.nsPerOp != 9e8 {
		t.Errorf("gzip = %+v", r)
	}
	if r := res["BenchmarkStepSnapshot/layers=1/files=100"]; r.nsPerOp != 2951604 || r.mbPerS != 0 {
		t.Errorf("snapshot = %+v", r)
	}
	d := strings.Join(goDerived(res, 800), "\n")
	for _, want := range []string{
		"layer gzip (klauspost, default level): 232 MB/s = 4.45× stdlib gzip (default level, 52 MB/s); target ≥ 2×: yes",
		"layer zstd (default level): 522 MB/s = 10.00× stdlib gzip",
		"raw copy of the big context on the same disk (cp -a): 800 MB/s",
		"layers=1/files=100 3.0ms; with 64 MiB dirty on the disk: 21.1ms",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("derived lacks %q:\n%s", want, d)
		}
	}
}
