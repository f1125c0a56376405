# Thin wrapper over CMake presets and the test tiers. Every target installs
# what it needs first (scripts/install-deps.sh is idempotent and quick; the
# test targets add --tests, before configuring, so every tier whose tools
# are found is registered).
ARGS ?= serve --root .
JOBS ?= 2

.PHONY: all deps test-deps build run test test-asan fuzz-smoke bench docs format format-check tidy clean vsix deb

all: build

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --tests

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

run: build
	./build/release/icotes $(ARGS)

# Every tier: unit (GoogleTest), transcripts, integration (MCP SDK,
# vscode-jsonrpc, Neovim), docs freshness. ctest prints the totals.
test: test-deps build
	@ctest --preset release

# The same tiers under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: test-deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@ctest --preset asan

# Builds the libFuzzer targets with clang and runs each for a short while.
fuzz-smoke: test-deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	@bash fuzz/run.sh $(FUZZ_SECONDS)

bench: test-deps build
	@bash bench/run.sh
	@bash bench/search.sh
	@bash bench/git.sh
	@bash bench/exec.sh
	@bash bench/server.sh
	@node bench/text_bytes.mjs

# The Debian package build/icotes_<version>_<arch>.deb (CPack; dependencies
# from dpkg-shlibdeps, plus bubblewrap). Install: apt install ./build/icotes_*.deb
deb: build
	@cd build/release && cpack -G DEB -B $(CURDIR)/build/cpack >/dev/null
	@mv build/cpack/icotes_*.deb build/ && rm -rf build/cpack
	@ls build/icotes_*.deb

docs: build
	./build/release/icotes docs > docs/operations.md

# The VS Code extension as build/icotes.vsix (editors/vscode/README.md):
# type-checked, bundled into one file, packaged by @vscode/vsce. Needs only
# node and npm: the packages pinned by editors/vscode/package-lock.json are
# installed when the lock changed (the stamp scripts/install-deps.sh keeps).
vsix:
	@mkdir -p build
	@cd editors/vscode && want=$$(sha256sum package-lock.json | cut -d' ' -f1) && \
		{ [ "$$(cat node_modules/.icotes-lock.sha256 2>/dev/null)" = "$$want" ] || \
		  { npm ci --no-audit --no-fund --loglevel=error && echo "$$want" >node_modules/.icotes-lock.sha256; }; } && \
		./node_modules/.bin/vsce package --no-dependencies --allow-missing-repository --skip-license \
		--out ../../build/icotes.vsix

# clang-format 14 over every tracked C++ file: `format` rewrites them,
# `format-check` only names those that differ (ctest style.clang_format).
format:
	@bash scripts/format.sh

format-check:
	@bash scripts/format.sh --check

# clang-tidy with .clang-tidy's checks over every src/ file of the release
# preset's compile_commands.json, JOBS at a time (minutes: see README).
tidy: deps
	@cmake --preset release >/dev/null
	@JOBS=$(JOBS) bash scripts/tidy.sh

clean:
	rm -rf build
