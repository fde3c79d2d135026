#!/usr/bin/env bash
# RUSTC_WRAPPER for `make fuzz` (scripts/fuzz.sh): compiles every crate with the RUSTFLAGS the
# script sets (SanitizerCoverage, debug assertions, overflow checks) except the text-search
# engines below, which it compiles plain. Their work lives in data (a regex's DFA states, an
# Aho-Corasick automaton, Unicode tables), so edge coverage inside their code says almost
# nothing about the input while comparison tracing in their inner loops made the
# `markdown_text` target ten times slower than the same code uninstrumented (docs/fuzz.md).
# Our own code that calls them stays instrumented: which patterns matched is still a branch.
set -euo pipefail
rustc="$1"
shift
plain=0
prev=""
for arg in "$@"; do
	if [ "$prev" = "--crate-name" ]; then
		case "$arg" in
		regex | regex_automata | regex_syntax | aho_corasick | memchr | unicode_normalization) plain=1 ;;
		esac
	fi
	prev="$arg"
done
if [ "$plain" = 0 ]; then
	exec "$rustc" "$@"
fi
args=()
for arg in "$@"; do
	case "$arg" in
	-Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage*) ;;
	-Cdebug-assertions | -Coverflow-checks) ;;
	*) args+=("$arg") ;;
	esac
done
exec "$rustc" "${args[@]}"
