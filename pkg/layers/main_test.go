package layers

import (
	"flag"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Each FuzzExtract input costs a fresh root and a confined thread (~1 ms), so the
	// default 60s of minimizing every new-coverage input would eat a whole
	// -fuzztime=30s run. Keep an explicit -fuzzminimizetime.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.fuzzminimizetime" })
	if !explicit {
		flag.Set("test.fuzzminimizetime", "1s")
	}
	code := m.Run()
	removeBenchTree()
	os.Exit(code)
}
