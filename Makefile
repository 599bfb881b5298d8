# Dockyard: `make demo` runs the main job end to end, `make test` passes the tests.
SHELL := /bin/bash
GO ?= go
export CGO_ENABLED := 1
BIN := bin
# seccomp: libcontainer loads seccomp profiles (the runner applies Docker's default one)
# only when built with it; it needs cgo and libseccomp-dev.
GOTAGS := seccomp
GOFLAGS_BUILD := -trimpath -tags $(GOTAGS)
PKGS := ./...

.PHONY: all build test unit e2e e2e-copy vet fmt demo bench conformance fuzz clean

all: build

CMDS := $(notdir $(wildcard cmd/*))

build: $(addprefix $(BIN)/,$(CMDS))

# Both binaries start containers (RUN steps, `runner run`), so both carry runc's nsenter (cgo).
$(BIN)/%: FORCE
	$(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/$*

FORCE:

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt'd:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags $(GOTAGS) $(PKGS)

unit:
	$(GO) test -tags $(GOTAGS) -count=1 $$($(GO) list ./... | grep -v /e2e)

# -p 1: e2e's tests check that no build left cgroups or mounts behind, which a build of
# e2e/conformance running at the same time would trip.
e2e: build
	DOCKYARD_BIN=$(CURDIR)/$(BIN) $(GO) test -p 1 -count=1 -timeout 40m ./e2e/...

# The build suite (every test of e2e/build_test.go, and the conformance suite) again on
# the copy snapshotter, the one chosen where overlayfs cannot be mounted.
BUILD_SUITE := $(shell sed -n 's/^func \(Test[A-Za-z0-9_]*\)(t \*testing.T).*/\1/p' e2e/build_test.go | paste -sd'|')
e2e-copy: build
	DOCKYARD_SNAPSHOTTER=copy DOCKYARD_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m -run '^($(BUILD_SUITE))$$' ./e2e/
	DOCKYARD_SNAPSHOTTER=copy DOCKYARD_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m ./e2e/conformance/

# The differential Dockerfile suite (e2e/conformance): every case built by us and by
# buildah, the images compared. Prints the failures in full and "N passed, M failed".
conformance: build
	set -o pipefail; DOCKYARD_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -v -timeout 30m -run '^TestConformance$$' ./e2e/conformance/ \
		| grep -v -e '^=== RUN' -e '^    --- PASS'

# Short fuzzing runs of the parsers and the tar extractor; `make fuzz FUZZTIME=10m` for more.
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./pkg/dockerfile
	$(GO) test -run '^$$' -fuzz '^FuzzExtract$$' -fuzztime $(FUZZTIME) ./pkg/layers

test: vet unit e2e e2e-copy fuzz

demo: build
	./hack/demo

bench: build
	./bench/run

clean:
	rm -rf $(BIN)
