#!/usr/bin/env bash
# `make bench` (consensus): Steward's consensus engine against red-dwarf 0.4.0 (PyPI, the Python
# reimplementation of Polis's math, in a pinned venv under .cache/) on the same inputs in the
# same run: the largest shared conversation, the largest with the Polis server's output, and a
# synthetic 100,000 x 2,000 matrix with 2% of cells voted. Time, peak RSS, groups and their
# agreement (adjusted Rand); writes BENCHMARKS.md (its section).
# BENCH_CONSENSUS_N / _M / _DENSITY scale the synthetic matrix.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
data="${STEWARD_DATA:-$root/../shared/data}"
n="${BENCH_CONSENSUS_N:-100000}"
m="${BENCH_CONSENSUS_M:-2000}"
density="${BENCH_CONSENSUS_DENSITY:-0.02}"
venv="$root/.cache/rd-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import importlib.metadata as m; assert m.version("red-dwarf") == "0.4.0"' 2>/dev/null; then
  echo "bench-consensus: creating $venv with red-dwarf 0.4.0" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'red-dwarf==0.4.0'
fi
cargo build --release --locked -q -p steward-core --example bench_consensus
ours="${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_consensus"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$ours" gen "$n" "$m" "$density" 7 "$work/synthetic.csv"

rows=""
for input in "$data/polis-opendata/austria-climate.5twd2jsnkf.2022-08-08/votes.csv" \
             "$data/polis-math-reference/150ptpt-3gp-no-strict-no-meta" \
             "$work/synthetic.csv"; do
  case "$input" in
    */synthetic.csv) label="synthetic ${n} x ${m}, ${density} voted (seed 7)" ;;
    *) label="$(basename "$(dirname "$input")")/$(basename "$input")" ; label="${label#polis-*/}" ;;
  esac
  echo "bench-consensus: $label" >&2
  s="$("$ours" run "$input" "$work/ours.csv")"
  r="$("$venv/bin/python" -W ignore scripts/bench-consensus-reddwarf.py "$input" "$work/rd.csv" 2>/dev/null)"
  row="$("$venv/bin/python" - "$s" "$r" "$work/ours.csv" "$work/rd.csv" "$label" <<'PY'
import json, sys
from sklearn.metrics import adjusted_rand_score
s, r = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def groups(path):
    return dict(tuple(map(int, l.split(","))) for l in open(path) if l.strip())
a, b = groups(sys.argv[3]), groups(sys.argv[4])
common = sorted(set(a) & set(b))
ari = adjusted_rand_score([a[p] for p in common], [b[p] for p in common]) if common else float("nan")
print(f"| {sys.argv[5]} | {s['votes']} | {s['seconds']:.3f} s (+{s['parse_seconds']:.2f} s read) | {s['peak_rss_mib']:.0f} MiB "
      f"| {r['seconds']:.2f} s | {r['peak_rss_mib']:.0f} MiB | {r['seconds'] / s['seconds']:.0f}x "
      f"| {s['groups']} / {r['groups']} | {s['clustered']} / {r['clustered']} | {ari:.3f} (over {len(common)}) |")
PY
)"
  echo "$row" >&2
  rows="$rows$row"$'\n'
done

section="$(cat <<MD
<!-- bench:consensus -->
## Consensus engine vs red-dwarf 0.4.0 (issue 18)

$(date -u +%Y-%m-%d), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg) at the end. Time is the analysis
alone (votes in memory to groups, repness, consensus) for both; peak RSS is the whole process.

| input | votes | Steward | Steward peak RSS | red-dwarf | red-dwarf peak RSS | speed-up | groups (ours / rd) | clustered (ours / rd) | ARI ours vs rd |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |
${rows}
red-dwarf runs with \`random_state=0\` and no base clusters (it clusters participants directly,
and keeps only participants with 7+ votes: no greedy top-up, no replay), so on small conversations
its groups are not Polis's; docs/consensus.md compares both with the Polis server. Command:
\`scripts/bench-consensus.sh\` (or \`make bench\`).
<!-- /bench:consensus -->
MD
)"
out="$root/BENCHMARKS.md"
[ -f "$out" ] || printf '# Benchmarks\n\nWritten by `make bench`; figures are from one run on the machine named in each section.\n' > "$out"
python3 - "$out" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pat = re.compile(r"<!-- bench:consensus -->.*?<!-- /bench:consensus -->", re.S)
text = pat.sub(lambda _: section, text) if pat.search(text) else text.rstrip() + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "bench-consensus: wrote $out" >&2
