# Conclave. `make run` starts a server and prints a meeting link; `make test`
# runs every test. Both install what they need or stop with a clear message.
GO      ?= go
BIN     := bin/conclave
ARGS    ?=
# Tests must never hang CI: every go test run has a deadline.
GOTEST  := $(GO) test -count=1 -timeout 15m

.PHONY: all run build web deps deps-test deps-bench test test-go test-web test-e2e vet bench fuzz clean release

all: build

deps:
	@scripts/ensure-deps run

deps-test:
	@scripts/ensure-deps test

deps-bench:
	@scripts/ensure-deps bench

web/node_modules/.installed: web/package.json web/package-lock.json | deps
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

e2ee/mls/interop/node_modules/.installed: e2ee/mls/interop/package.json e2ee/mls/interop/package-lock.json | deps
	cd e2ee/mls/interop && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web: web/node_modules/.installed
	cd web && npm run --silent build

build: web
	$(GO) build -trimpath -o $(BIN) .

run: build
	$(BIN) serve $(ARGS)

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd web && npx tsc --noEmit -p tsconfig.json

# Vet runs last so that one unformatted file does not hide test results.
test: deps-test build test-go test-web test-e2e vet

# The MLS interop test drives ts-mls under Node.
test-go: e2ee/mls/interop/node_modules/.installed
	$(GOTEST) ./...

test-web:
	cd web && npm run --silent test

test-e2e: build
	cd web && npm run --silent test:e2e

bench: deps-bench build
	scripts/bench

fuzz:
	scripts/fuzz-all 30s

# Reproducible release of HEAD into dist/ (binaries, BUILDINFO, SHA256SUMS,
# signed when RELEASE_KEY=FILE names a key from `conclave admin release-keygen`).
release: deps
	scripts/release

clean:
	rm -rf bin web/dist/* web/node_modules/.installed
