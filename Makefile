# The README's two commands are `make demo` and `make test`; everything else here serves them.
SHELL := /bin/bash
CARGO ?= cargo

# Installed into the checkout (gitignored) by the setup scripts; the binary reads them from here.
export STEWARD_MODELS_DIR ?= $(CURDIR)/models
export STEWARD_TOOLS_DIR ?= $(CURDIR)/tools/node_modules
DEMO_HOME ?= $(CURDIR)/.demo/home

.PHONY: demo test soak bench fuzz setup apt tools models llama-server test-llama-server build lint check-fmt clean

## demo: install what is needed, build, run `steward demo` on the embedded defaults: a local
## anvil Governor and loopback Snapshot, a persona, `steward run`, then the review desk (Ctrl-C)
demo: setup
	@# The default demo home is the checkout's own; an older demo left there has no marker yet.
	@if [ "$(DEMO_HOME)" = "$(CURDIR)/.demo/home" ]; then rm -rf "$(DEMO_HOME)"; fi
	STEWARD_HOME="$(DEMO_HOME)" STEWARD_PASSPHRASE="$${STEWARD_PASSPHRASE:-steward-demo}" \
		$(CARGO) run --quiet --release --locked --features demo --bin steward -- demo

## test: install what the tests need (the llama.cpp server too: about 10 minutes cold, once per
## machine), then formatting, clippy and the whole suite
test: setup llama-server lint
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --locked --no-fail-fast --features steward/demo; \
	else \
		$(CARGO) test --workspace --locked --no-fail-fast --features steward/demo; \
	fi

## soak: the crash soak (docs/casting.md): `steward run --watch` against anvil, the loopback hub
## and a sequencer that stalls, loses answers, sees requests twice and shows votes late, killed
## with SIGKILL at SOAK_KILLS (300) points seeded from the clock; prints its seed, SOAK_SEED=N
## replays it. `make test` runs the same test with 15 kill points and seed 2112.
SOAK_KILLS ?= 300
SOAK_SEED ?= $(shell date +%s)
soak: setup
	SOAK_KILLS=$(SOAK_KILLS) SOAK_SEED=$(SOAK_SEED) $(CARGO) test -p steward --test it --locked -- \
		--nocapture --exact soak::crash_soak_kill_9_never_votes_twice_nor_loses_a_vote

## bench: the local models against llama.cpp and sentence-transformers (installs torch into
## .cache/st-venv on first use), ingest of 13k real proposals, vote prediction on real delegate
## votes, EIP-712 sign + recover against ethers v6, and payload decoding/inspection;
## writes BENCHMARKS.md
bench: setup
	scripts/bench-ml.py
	scripts/bench-ingest.sh
	scripts/bench-eval.sh
	scripts/bench-eip712.sh
	scripts/bench-verify.sh
	scripts/bench-provenance.sh
	scripts/bench-round.sh
	scripts/bench-mech.sh
	scripts/bench-consensus.sh
	scripts/bench-zk.sh

## fuzz: libFuzzer (stable Rust, libfuzzer-sys) on every parser of outside input, FUZZ_SECS seconds
## per target (FUZZ_JOBS at once), seeded from ../shared/data; crashes land in fuzz/artifacts/;
## writes BENCHMARKS.md (section fuzz). docs/fuzz.md
FUZZ_SECS ?= 60
fuzz:
	FUZZ_SECS=$(FUZZ_SECS) scripts/fuzz.sh

setup: apt tools models

apt:
	@scripts/setup-apt.sh

tools:
	@scripts/setup-tools.sh

models:
	@scripts/setup-models.sh

## llama-server: build PyPI llama-cpp-python[server] (compiles llama.cpp: long when cold, the wheel
## is cached in ~/.cache/steward/llama-server) for the OpenAI-backend test against a real server.
## About 10 minutes cold on 2 cores (596 s measured), 0 s once its stamp is there.
llama-server:
	@scripts/setup-llama-server.sh

## test-llama-server: the OpenAI-compatible backend against the real llama.cpp server on loopback
test-llama-server: models llama-server
	$(CARGO) nextest run -p steward-ml --locked -E 'test(real_llama_cpp_server)'

build:
	$(CARGO) build --workspace --locked

lint: check-fmt
	$(CARGO) clippy --workspace --all-targets --all-features --locked -- -D warnings
	@# The fuzz workspace has its own lock file (a dependency added to a crate must land there
	@# too) and its targets call the parsers' public API: checking it here keeps a change to
	@# either from breaking `make fuzz` unseen (a changed return type once did). About 6 min
	@# the first time on 2 cores, seconds after.
	$(CARGO) check --locked --bins --manifest-path fuzz/Cargo.toml

check-fmt:
	$(CARGO) fmt --all -- --check

clean:
	rm -rf .demo
