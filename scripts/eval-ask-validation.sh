#!/usr/bin/env bash
# The validation slices behind `--ask-threshold` (docs/eval.md, "Asking to learn"): they never
# touch the eval's test rows. Arbitrum: each voter's first 70% of votes by order_rank (the slice
# of scripts/eval-policy-sweep.sh); on-chain: scripts/eval-replay-validation.sh's. Both then run
# with --split 0.714 --min-votes 14, so the validation rows are votes 50-70% of each history.
#
#   STEWARD_BIN=target/debug/steward scripts/eval-ask-validation.sh arbitrum|onchain [eval args]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
set_name="${1:?arbitrum or onchain}"
shift
if [ "$set_name" = onchain ]; then
  exec "$root/scripts/eval-replay-validation.sh" "$@"
fi
data="${STEWARD_SHARED_DATA:-$root/../shared/data}/arbitrum-snapshot-delegates"
bin="${STEWARD_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/steward}"
[ -x "$bin" ] || { echo "eval-ask-validation: no steward binary at $bin (cargo build, or set STEWARD_BIN)" >&2; exit 2; }
[ -f "$data/votes.csv" ] || { echo "eval-ask-validation: $data/votes.csv is absent" >&2; exit 2; }
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
"$bin" eval votes --train "$tmp/votes.csv" --split 0.714 --min-votes 14 "$@"
