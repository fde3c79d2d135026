#!/usr/bin/env bash
# `make bench` (ingest): 13k real Snapshot proposals through `ingest file` and through a sync
# from the loopback hub; writes the figures and the command into BENCHMARKS.md (its own section).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${STEWARD_SHARED_DATA:-../shared/data}"
# Relative paths are relative to the repository root, where the command runs.
cd "$root"
if [ ! -d "$data/snapshot-daocensus" ]; then
  echo "bench-ingest: skipped: $data/snapshot-daocensus is absent" >&2
  exit 0
fi
cmd="cargo run --release --locked -q -p steward-agent --features testkit --example bench_ingest -- $data"
echo "bench-ingest: $cmd" >&2
json="$($cmd)"
echo "$json"
get() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$json" "$1"; }
section="$(cat <<MD
<!-- bench:ingest -->
## Ingest: 13k real Snapshot proposals (issue 4)

$(date -u +%Y-%m-%d), $(nproc) cores. Target: under 30 s each way.

| path | proposals | seconds | proposals/s | peak RSS |
| --- | ---: | ---: | ---: | ---: |
| \`steward ingest file\` (JSON Lines) | $(get proposals) | $(get ingest_file_secs) | $(get ingest_file_per_sec) | $(get peak_rss_mib) MiB (whole run) |
| Snapshot sync from the loopback hub ($(get hub_requests) GraphQL requests) | $(get proposals) | $(get hub_sync_secs) | $(get hub_sync_per_sec) | |

Both write into a fresh SQLCipher store with an audit entry per proposal. Command:
\`$cmd\` (or \`make bench\`).
<!-- /bench:ingest -->
MD
)"
out="$root/BENCHMARKS.md"
[ -f "$out" ] || printf '# Benchmarks\n\nWritten by `make bench`; figures are from one run on the machine named in each section.\n' > "$out"
python3 - "$out" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pat = re.compile(r"<!-- bench:ingest -->.*?<!-- /bench:ingest -->", re.S)
text = pat.sub(lambda _: section, text) if pat.search(text) else text.rstrip() + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "bench-ingest: wrote $out" >&2
