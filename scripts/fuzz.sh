#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets of fuzz/ on stable Rust (sanitizer-coverage through
# LLVM flags, no nightly), seeds their corpora from ../shared/data (scripts/fuzz-seeds.py, once),
# runs each target for FUZZ_SECS seconds, prints executions and exec/s per target, and writes the
# BENCHMARKS.md section (<!-- bench:fuzz -->) with the totals of every run on this corpus.
#
#   FUZZ_SECS=60        seconds per target
#   FUZZ_TARGETS="..."  which targets (default: all of fuzz/fuzz_targets); a target named twice
#                       runs twice at once on its one corpus (libFuzzer reloads what the other
#                       process found every second), each run its own line in runs.tsv
#   FUZZ_JOBS=1         targets run at once
#   FUZZ_NICE=19        niceness of the fuzzing processes
#   STEWARD_DATA=../shared/data
#   FUZZ_INSTRUMENT_ALL=1  instrument the regex engines too (slower; for comparison)
#   FUZZ_NO_BUILD=1     run the binaries already built (another run is still using the target dir)
# A crash leaves its input in fuzz/artifacts/<target>/ and makes the script fail; reproduce with
# `<binary> fuzz/artifacts/<target>/crash-...` (docs/fuzz.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
secs="${FUZZ_SECS:-60}"
jobs="${FUZZ_JOBS:-1}"
nice_n="${FUZZ_NICE:-19}"
data="${STEWARD_DATA:-$root/../shared/data}"
triple="$(rustc -vV | sed -n 's/^host: //p')"
target_dir="${CARGO_TARGET_DIR:-$root/fuzz/target}"
bin_dir="$target_dir/$triple/release"
targets="${FUZZ_TARGETS:-$(ls fuzz/fuzz_targets | sed 's/\.rs$//' | tr '\n' ' ')}"

# What cargo-fuzz passes with `--sanitizer none`, all of it stable: SanitizerCoverage's
# inline 8-bit counters, the PC table and comparison tracing that libFuzzer reads. `--target`
# keeps the flags off build scripts and proc macros, which run inside the compiler.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# The regex engines, Aho-Corasick and the Unicode tables are compiled without these flags
# (scripts/fuzz-rustc.sh says why); FUZZ_INSTRUMENT_ALL=1 instruments them too (what the
# docs/fuzz.md figures compare against; it rebuilds the whole tree).
if [ -z "${FUZZ_INSTRUMENT_ALL:-}" ]; then
	export RUSTC_WRAPPER="$root/scripts/fuzz-rustc.sh"
fi
build=(cargo build --release --locked --manifest-path fuzz/Cargo.toml --target "$triple" --bins)
if [ -z "${FUZZ_NO_BUILD:-}" ]; then
	echo "fuzz: ${build[*]}" >&2
	CARGO_TARGET_DIR="$target_dir" nice -n 10 "${build[@]}"
fi

if [ ! -d fuzz/corpus ]; then
	scripts/fuzz-seeds.py "$data"
fi

# One line per run: date target seconds executions exit-status coverage invocation (the
# script's start time: two lines of one target with the same invocation ran at once).
log="fuzz/artifacts/runs.tsv"
invocation="$(date -u +%s)"
mkdir -p fuzz/artifacts
run_one() {
	local t="$1" slot="$2" out rc
	mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
	out="fuzz/artifacts/$t/last.log"
	[ "$slot" = 1 ] || out="fuzz/artifacts/$t/last.$slot.log"
	set +e
	nice -n "$nice_n" "$bin_dir/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len=8192 -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
		"fuzz/corpus/$t" >"$out" 2>&1
	rc=$?
	set -e
	local execs time cov
	execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)"
	time="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$out" | tail -1)"
	cov="$(grep -o 'cov: [0-9]*' "$out" | tail -1 | sed 's/cov: //')"
	[ -n "$time" ] || time="$secs"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%d)" "$t" "$time" "${execs:-0}" "$rc" "${cov:-0}" \
		"$invocation" >>"$log"
	printf 'fuzz: %-17s %10s execs in %4ss = %6s exec/s, cov %s%s\n' "$t" "${execs:-0}" "$time" \
		"$(( ${execs:-0} / (time > 0 ? time : 1) ))" "${cov:-?}" "$([ "$rc" = 0 ] || echo ", CRASH (rc $rc): see $out")" >&2
}
export -f run_one
export secs nice_n bin_dir log invocation
# Each line: the target and which copy of it this is (1 unless the target is named twice).
printf '%s\n' $targets | awk '{print $0, ++n[$0]}' | xargs -P "$jobs" -L1 bash -c 'run_one "$0" "$1"'

# The section: per target, the last run and the total over every run on this corpus.
load="$(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$log" "$root/BENCHMARKS.md" "$secs" "$jobs" "$load" "$(nproc)" <<'PY'
import collections, re, sys
log, out, secs, jobs, load, cores = sys.argv[1:]
# Lines from before the invocation column each count as an invocation of their own.
runs = [(l.rstrip("\n").split("\t") + [f"line{i}"])[:7] for i, l in enumerate(open(log)) if l.strip()]
# Per target: executions since its last crash (a crash resets the count: the fix is new code).
clean = collections.defaultdict(lambda: [0, 0])  # executions, seconds
crashes = collections.Counter()
last = {}
for date, t, s, n, rc, cov, _ in runs:
    if rc != "0":
        crashes[t] += 1
        clean[t] = [0, 0]
    else:
        clean[t][0] += int(n); clean[t][1] += int(s)
    last[t] = (date, int(s), int(n), rc, cov)
# A target run twice at once: its last run is both processes together.
last_inv = {t: inv for _, t, _, _, _, _, inv in runs}
together = collections.defaultdict(list)
for date, t, s, n, rc, cov, inv in runs:
    if inv == last_inv[t]:
        together[t].append((date, int(s), int(n), rc, cov))
for t, rs in together.items():
    if len(rs) > 1:
        last[t] = (rs[0][0], max(r[1] for r in rs), sum(r[2] for r in rs),
                   next((r[3] for r in rs if r[3] != "0"), "0"), max((r[4] for r in rs), key=int))
rows = []
for t in sorted(last):
    date, s, n, rc, cov = last[t]
    ex, sec = clean[t]
    rate = n / s if s else 0
    if ex >= 10_000_000:
        to10m = "reached"
    elif rate:
        left = (10_000_000 - ex) / rate
        to10m = f"{left / 60:.0f} min more" if left < 5400 else f"{left / 3600:.1f} h more"
    else:
        to10m = "-"
    rows.append(f"| `{t}` | {n:,} | {s} | {rate:,.0f} | {cov} | {ex:,} | {sec} | {crashes[t]} | {to10m} |")
section = f"""<!-- bench:fuzz -->
## Fuzzing: every parser of outside input (issue 21)

libFuzzer through `libfuzzer-sys` on stable Rust (SanitizerCoverage by `-Cpasses=sancov-module`
and `-Cllvm-args`, no nightly), release build with debug assertions and overflow checks (the
regex engines, Aho-Corasick and the Unicode tables built plain: `scripts/fuzz-rustc.sh`), seeds
from `../shared/data` by `scripts/fuzz-seeds.py`. Last run: {runs[-1][0]}, {cores} cores shared
with other builds, {jobs} target(s) at a time under `nice -n 19`, load average after {load}.
Command: `make fuzz FUZZ_SECS={secs}` (`scripts/fuzz.sh`). "Clean" adds the runs on the same
corpus since the target's last crash (`fuzz/artifacts/runs.tsv`; "clean s" adds each process's
seconds); a target run twice at once shows both processes together in its last run; crashes
found and fixed are in docs/fuzz.md. A target's last run is its own latest invocation (its
length in "s"); "to 10 M": at that run's rate.

| target | last run: executions | s | exec/s | coverage (edges) | clean executions | clean s | crashes | to 10 M clean |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
""" + "\n".join(rows) + "\n<!-- /bench:fuzz -->"
text = open(out).read()
pat = re.compile(r"<!-- bench:fuzz -->.*?<!-- /bench:fuzz -->", re.S)
text = pat.sub(lambda _: section, text) if pat.search(text) else text.rstrip() + "\n\n" + section + "\n"
open(out, "w").write(text)
PY
echo "fuzz: wrote BENCHMARKS.md (section bench:fuzz)" >&2
if awk -F'\t' -v n="$(printf '%s\n' $targets | wc -l)" '{a[NR]=$5} END {for (i=NR-n+1;i<=NR;i++) if (a[i]!="0") exit 1}' "$log"; then
	exit 0
fi
echo "fuzz: a target crashed; inputs are in fuzz/artifacts/<target>/" >&2
exit 1
