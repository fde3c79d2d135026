#!/usr/bin/env bash
# `make bench` (zk): Semaphore proof generation and verification at tree depth 20 in a group of
# 1,000, against the figures semaphore-rs's own bench gave on this machine (issue 20: 0.32 s
# prove, 4 ms verify; no slower); writes its BENCHMARKS.md section.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runs="${BENCH_ZK_RUNS:-5}"
members="${BENCH_ZK_MEMBERS:-1000}"
# STEWARD_BENCH_PROFILE=dev measures the dev build instead of --release (quicker to build).
profile="${STEWARD_BENCH_PROFILE:-release}"
case "$profile" in
  release) flag="--release" ;;
  dev) flag="" ;;
  *) echo "bench-zk: STEWARD_BENCH_PROFILE is release or dev, not $profile" >&2; exit 2 ;;
esac
cmd="cargo run${flag:+ $flag} --locked -q -p steward-zk --example bench_zk -- $runs $members"
echo "bench-zk: $cmd" >&2
json="$($cmd)"
echo "$json"
get() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$json" "$1"; }
section="$(cat <<MD
<!-- bench:zk -->
## Anonymous signals: Semaphore proofs at depth 20 (issue 20)

$(date -u +%Y-%m-%d), $(nproc) cores (load average $(cut -d' ' -f1 /proc/loadavg) when it ended), $(get threads) threads, $profile build.

| what | steward-zk | semaphore-rs's bench here (issue 20) |
| --- | ---: | ---: |
| group of $(get members), depth-20 tree built | $(get tree_ms) ms | |
| first proof + verification (loads the key and witness graph) | $(get load_ms) ms | |
| proof, p50 over $(get runs) | $(get prove_p50_ms) ms | 320 ms |
| proof, slowest | $(get prove_max_ms) ms | |
| verification, p50 | $(get verify_p50_ms) ms | 4 ms |
| verification, slowest | $(get verify_max_ms) ms | |

\`steward_zk::prove\` is semaphore-rs's \`generate_proof\` plus the group's Merkle path and hex
encoding; \`verify\` parses the signal and runs its \`verify_proof\` (which prepares the verifying
key each call). Command: \`$cmd\` (or \`make bench\`).
<!-- /bench:zk -->
MD
)"
out="$root/BENCHMARKS.md"
[ -f "$out" ] || printf '# Benchmarks\n\nWritten by `make bench`; figures are from one run on the machine named in each section.\n' > "$out"
python3 - "$out" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pat = re.compile(r"<!-- bench:zk -->.*?<!-- /bench:zk -->", re.S)
text = pat.sub(lambda _: section, text) if pat.search(text) else text.rstrip() + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "bench-zk: wrote $out" >&2
