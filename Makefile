# The README's commands. Each target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NPM := npm

.PHONY: help deps redis chromium bench-tools gen build docs start test test-soak bench docker clean FORCE

help:
	@echo "make start      install, build (only when sources changed), and run the service: gRPC on :50051,"
	@echo "                JSON over HTTP on :8080, metrics on :9464, one process; Ctrl-C or SIGTERM to stop"
	@echo "make test       install, build, type-check and run every test against a real redis-server"
	@echo "make test-soak  the bounded soak test for SOAK_SECONDS (default 180)"
	@echo "make bench      run the benchmarks (bench/README.md)"
	@echo "make gen        regenerate src/gen, client/src/gen and test/gen from proto/ (buf + protoc-gen-es + ts-proto)"
	@echo "make build      gen + compile to dist/ (and the Node client to client/dist/), when a source changed"
	@echo "make docs       regenerate docs/reference.md from the protos (a test fails when it is stale)"
	@echo "make docker     build the image parley (Dockerfile; README, Docker)"
	@echo "make clean      remove dist, src/gen, test/gen, client/src/gen, client/dist and node_modules"

node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

deps: node_modules/.installed

# redis-server from Debian when it is missing (sudo when not root).
redis:
	@command -v redis-server >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y redis-server; }

# chromium from Debian when it is missing, for the /docs and /explorer browser tests (test/docs/browser.test.ts, explorer.test.ts).
chromium:
	@command -v chromium >/dev/null || [ -x "$${CHROMIUM_BIN:-/usr/lib/chromium/chromium}" ] || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y chromium; }

# h2load (nghttp2-client) and wrk from Debian when missing, for the benchmark only.
bench-tools:
	@command -v h2load >/dev/null && command -v wrk >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y nghttp2-client wrk; }

gen: deps
	$(NPM) run --silent gen

# What the build reads. dist/.built is newer than all of them after a build, so `make start` with
# nothing changed runs neither buf nor tsc. src/gen, test/gen, client/src/gen and client/dist are
# outputs (a missing one rebuilds); client/ (the Node client, client/README.md) is compiled by `compile`.
BUILD_INPUTS := $(shell find proto src gateway bench scripts client/src -type f -not -path 'src/gen/*' -not -path 'client/src/gen/*' -not -name '*.md') \
  client/package.json client/tsconfig.json package.json package-lock.json buf.yaml buf.gen.yaml $(wildcard tsconfig*.json)
GEN_OUTPUTS_MISSING := $(if $(and $(wildcard src/gen/descriptors.binpb),$(wildcard test/gen),$(wildcard client/src/gen),$(wildcard client/dist/index.js)),,FORCE)

dist/.built: $(BUILD_INPUTS) node_modules/.installed $(GEN_OUTPUTS_MISSING)
	$(NPM) run --silent gen
	$(NPM) run --silent compile
	@touch $@

build: dist/.built

FORCE:

# docs/reference.md from the descriptors and the compiled defaults (scripts/gen-reference.mjs).
docs: build
	$(NPM) run --silent docs

# The service in the foreground. `exec` replaces the recipe's shell with node, so node is make's
# child: SIGTERM or SIGINT to node's pid stops it gracefully and make exits 0. Ctrl-C (SIGINT to the
# group) and SIGTERM to make's pid also stop it gracefully (make passes SIGTERM on and waits), but
# make then ends itself by the signal, 130 / 143: GNU make always does (README, Stopping make start).
start: build redis
	@# The open-file soft limit raised to the hard one: connection limits are fitted under it (src/fd-budget.ts).
	ulimit -n "$$(ulimit -Hn)" 2>/dev/null; exec node dist/src/main.js

test: build redis chromium
	$(NPM) run --silent typecheck
	npx jest

# The soak test alone, longer (SOAK_SECONDS, default 180; `make test` runs it for 10 s).
test-soak: build redis
	SOAK_SECONDS=$${SOAK_SECONDS:-180} npx jest test/soak

bench: build redis bench-tools
	node dist/bench/run.js

docker:
	docker build -t parley .

clean:
	rm -rf dist src/gen test/gen client/src/gen client/dist node_modules
