#!/usr/bin/env bash
# A validation slice of onchain-governor-votes that never touches the eval's test rows: each
# voter with at least 20 final votes loses their latest 30% by vote time (the rows
# `steward eval votes --mode replay` scores); everything else stays. The eval then runs on the
# slice with --split 0.714 --min-votes 14, so the validation rows are votes 50-70% of each heavy
# voter's history. Settings are chosen here, then measured once on the test rows (docs/eval.md).
#
#   STEWARD_BIN=target/debug/steward scripts/eval-replay-validation.sh [eval args, e.g. --mode replay]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${STEWARD_SHARED_DATA:-$root/../shared/data}/onchain-governor-votes"
bin="${STEWARD_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/steward}"
[ -x "$bin" ] || { echo "eval-replay-validation: no steward binary at $bin (cargo build, or set STEWARD_BIN)" >&2; exit 2; }
[ -f "$data/votes.csv" ] || { echo "eval-replay-validation: $data/votes.csv is absent" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - "$data/votes.csv" "$tmp/votes.csv" <<'PY'
import collections, csv, sys
from datetime import datetime
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
def key(r):
    t = datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).timestamp()
    return (t, int(r["log_index"] or 0))
# The eval's split: last vote per (voter, proposal), then each voter's latest 30% by time.
last = {}
for r in sorted(rows, key=key):
    last[(r["voter"], r["proposal_id"])] = r
by = collections.defaultdict(list)
for r in last.values():
    by[r["voter"]].append(r)
test = set()
for vs in by.values():
    if len(vs) >= 20:
        vs.sort(key=lambda r: (key(r), r["proposal_id"]))
        test |= {(r["voter"], r["proposal_id"]) for r in vs[int(0.7 * len(vs)):]}
w = csv.DictWriter(open(sys.argv[2], "w", newline=""), fieldnames=list(rows[0].keys()))
w.writeheader()
w.writerows(r for r in rows if (r["voter"], r["proposal_id"]) not in test)
PY
cp "$data/proposals.csv" "$tmp/"
"$bin" eval votes --train "$tmp/votes.csv" --split 0.714 --min-votes 14 "$@"
