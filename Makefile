# Dockyard: `make demo` runs the main job end to end, `make test` passes the tests.
SHELL := /bin/bash
GO ?= go
export CGO_ENABLED := 1
BIN := bin
GOFLAGS_BUILD := -trimpath
PKGS := ./...

.PHONY: all build test unit e2e vet fmt demo bench conformance fuzz clean

all: build

CMDS := $(notdir $(wildcard cmd/*))

build: $(addprefix $(BIN)/,$(CMDS))

# Both binaries start containers (RUN steps, `runner run`), so both carry runc's nsenter (cgo).
$(BIN)/%: FORCE
	$(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/$*

FORCE:

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt'd:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /e2e)

e2e: build
	DOCKYARD_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 40m ./e2e/...

# Short fuzzing runs of the parsers and the tar extractor; `make fuzz FUZZTIME=10m` for more.
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./pkg/dockerfile
	$(GO) test -run '^$$' -fuzz '^FuzzExtract$$' -fuzztime $(FUZZTIME) ./pkg/layers

test: vet unit e2e fuzz

demo: build
	./hack/demo

bench: build
	./bench/run

clean:
	rm -rf $(BIN)
