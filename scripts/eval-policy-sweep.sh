#!/usr/bin/env bash
# The sweep behind the policy's default (docs/eval.md, "Choosing the policy"): builds a validation
# slice that never touches the eval's test rows (each voter's first 70% of votes by order_rank),
# splits it so the validation rows are votes 50-70% of each voter's history, and prints the
# accuracy of the votes cast and their coverage for each `--min-confidence-low`, blind and live.
#
#   STEWARD_BIN=target/debug/steward scripts/eval-policy-sweep.sh [0.75 0.80 ...] [-- EVAL ARGS]
#
# Arguments after `--` go to every eval run (e.g. `-- --embed` for the int8 MiniLM embedder
# `decide` uses).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${STEWARD_SHARED_DATA:-$root/../shared/data}/arbitrum-snapshot-delegates"
bin="${STEWARD_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/steward}"
[ -x "$bin" ] || { echo "eval-policy-sweep: no steward binary at $bin (cargo build, or set STEWARD_BIN)" >&2; exit 2; }
[ -f "$data/votes.csv" ] || { echo "eval-policy-sweep: $data/votes.csv is absent" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - "$data/votes.csv" "$tmp/votes.csv" <<'PY'
import collections, csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
by = collections.defaultdict(list)
for r in rows:
    by[r["voter"]].append(r)
out = []
for rs in by.values():
    rs.sort(key=lambda r: float(r["order_rank"]))
    out += rs[: int(len(rs) * 0.7)]
w = csv.DictWriter(open(sys.argv[2], "w", newline=""), fieldnames=list(rows[0].keys()))
w.writeheader()
w.writerows(out)
PY
cp "$data/proposals.csv" "$tmp/"
thresholds=()
while (($#)) && [ "$1" != -- ]; do thresholds+=("$1"); shift; done
(($#)) && shift
extra=("$@")
((${#thresholds[@]})) || thresholds=(0.75 0.80 0.82 0.84 0.85 0.87)
echo "| --min-confidence-low | blind: auto acc. @ coverage | live: auto acc. @ coverage |"
echo "| ---: | --- | --- |"
for lo in "${thresholds[@]}"; do
  row="| $lo |"
  for mode in blind live; do
    row+=" $("$bin" eval votes --train "$tmp/votes.csv" --split 0.714 --min-votes 14 --mode "$mode" \
      --min-confidence-low "$lo" ${extra[@]+"${extra[@]}"} --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print("%.3f @ %.3f" % (d["auto_accuracy"], d["coverage"]))') |"
  done
  echo "$row"
done
