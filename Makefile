# stacknet: the two set-up commands are `make demo` and `make test`.

GO        ?= go
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report a spurious "context deadline exceeded" as the time runs out
# (golang/go#75804, fixed in Go 1.27).
FUZZTIME  ?= 50000x
PKGS      := ./...
STATICCHECK_VERSION := v0.8.2

.PHONY: demo test test-race test-norace bench fuzz lint staticcheck soak

## demo: two stacks on an in-memory wire ping each other, exchange UDP and
## talk HTTP over TCP (no root).
demo:
	$(GO) run ./cmd/stacknet demo

## test: every test under the race detector, then the allocation tests without it
## (the race detector makes sync.Pool drop items, so they are race-free only).
## As root the TAP and PF_PACKET interop tests run too; otherwise they skip.
test: test-race test-norace

test-race:
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

test-norace:
	$(GO) test -count=1 -run 'Alloc' $(PKGS)

## bench: every benchmark, stacknet beside the kernel's loopback where both exist
## (the TCP ones: BenchmarkTCP* and BenchmarkHTTPGet in ./stacknet).
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## soak: the impaired TCP transfer (5% loss, 2% reordering, 1% duplication,
## 0.1% corruption) with 256 MiB each way instead of make test's 16 MiB;
## SOAK_BYTES=1GiB make soak for more. Without -race, for speed: make test
## runs the same code under the race detector.
SOAK_BYTES ?= 256MiB
soak:
	STACKNET_IMPAIR_BYTES=$(SOAK_BYTES) $(GO) test -count=1 -timeout 60m -v -run '^TestTCPImpairedTransfer$$' ./stacknet

## fuzz: a short run ($(FUZZTIME) inputs) of every fuzz target.
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
		dir=$$(dirname $$f); \
		for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
			echo "fuzz $$dir $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$dir; \
		done; \
	done

## lint: gofmt, go vet (Linux, macOS, FreeBSD, and 32-bit x86) and staticcheck.
lint: staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	GOOS=darwin $(GO) vet $(PKGS)
	GOOS=freebsd $(GO) vet $(PKGS)
	GOARCH=386 $(GO) vet $(PKGS)
	"$$($(GO) env GOPATH)/bin/staticcheck" $(PKGS)

staticcheck:
	@test -x "$$($(GO) env GOPATH)/bin/staticcheck" || \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
