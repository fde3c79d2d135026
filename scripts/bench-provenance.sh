#!/usr/bin/env bash
# `make bench` (provenance): how long the voting-power provenance checks take over a
# 10,000-block window of events on anvil (issue 16: under 2 s); writes its BENCHMARKS.md section.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export STEWARD_TOOLS_DIR="${STEWARD_TOOLS_DIR:-$root/tools/node_modules}"
transfers="${BENCH_PROVENANCE_TRANSFERS:-500}"
runs="${BENCH_PROVENANCE_RUNS:-5}"
# STEWARD_BENCH_PROFILE=dev measures the dev build instead of --release (quicker to build).
profile="${STEWARD_BENCH_PROFILE:-release}"
case "$profile" in
  release) flag="--release" ;;
  dev) flag="" ;;
  *) echo "bench-provenance: STEWARD_BENCH_PROFILE is release or dev, not $profile" >&2; exit 2 ;;
esac
cmd="cargo run${flag:+ $flag} --locked -q -p steward-eth --features testkit --example bench_provenance -- $transfers $runs"
echo "bench-provenance: $cmd" >&2
json="$($cmd)"
echo "$json"
get() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$json" "$1"; }
section="$(cat <<MD
<!-- bench:provenance -->
## Voting-power provenance over a 10,000-block window (issue 16)

$(date -u +%Y-%m-%d), $(nproc) cores (load average $(cut -d' ' -f1 /proc/loadavg) when it ended), one thread, $profile build.

| what | figure |
| --- | ---: |
| blocks of events on anvil | $(get blocks) |
| token transfers between 50 delegates (Transfer + 2 DelegateVotesChanged each) | $(get transfers) |
| votes in the window (earlier proposals and the measured one) | $(get votes) |
| voters checked on the measured proposal | $(get voters_checked) |
| \`GovernorReader::provenance\`, p50 over $(get runs) runs | $(get p50_ms) ms |
| same, slowest | $(get max_ms) ms |

Reads the governor's logs over the window, five checkpoints and the account state of each voter,
the token's delegation and transfer logs in the window, and the governor's code
(docs/verify.md, "Voting-power provenance"). Command: \`$cmd\` (or \`make bench\`).
<!-- /bench:provenance -->
MD
)"
out="$root/BENCHMARKS.md"
[ -f "$out" ] || printf '# Benchmarks\n\nWritten by `make bench`; figures are from one run on the machine named in each section.\n' > "$out"
python3 - "$out" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pat = re.compile(r"<!-- bench:provenance -->.*?<!-- /bench:provenance -->", re.S)
text = pat.sub(lambda _: section, text) if pat.search(text) else text.rstrip() + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "bench-provenance: wrote $out" >&2
