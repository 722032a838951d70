# The README's commands. Each target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NPM := npm

.PHONY: help deps redis bench-tools gen build start test test-soak bench docker clean

help:
	@echo "make start   install, build, and run the service: gRPC on :50051 and JSON over HTTP on :8080, one process"
	@echo "make test    install, build, type-check and run every test against a real redis-server"
	@echo "make gen     regenerate src/gen from proto/ (buf + ts-proto)"
	@echo "make build   gen + compile to dist/"
	@echo "make test-soak  the bounded soak test for SOAK_SECONDS (default 180)"
	@echo "make bench   run the benchmarks (bench/README.md)"

node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

deps: node_modules/.installed

# redis-server from Debian when it is missing (sudo when not root).
redis:
	@command -v redis-server >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y redis-server; }

# h2load (nghttp2-client) and wrk from Debian when missing, for the benchmark only.
bench-tools:
	@command -v h2load >/dev/null && command -v wrk >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y nghttp2-client wrk; }

gen: deps
	$(NPM) run --silent gen

build: gen
	$(NPM) run --silent compile

start: build redis
	@# The open-file soft limit raised to the hard one: connection limits are fitted under it (src/fd-budget.ts).
	ulimit -n "$$(ulimit -Hn)" 2>/dev/null; exec node dist/src/main.js

test: build redis
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
	rm -rf dist src/gen node_modules
