#!/usr/bin/env bash
# `make bench` (round): one pipeline round (`steward run --no-sync --no-llm`) over 200 and 1,000
# real Snapshot proposals made open, with a small profile and the real embedder (the largest size
# again with the local model);
# writes the figures and the command into BENCHMARKS.md (its own section).
# STEWARD_BENCH_PROFILE=dev measures the dev build instead of --release (quicker to build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${STEWARD_SHARED_DATA:-../shared/data}"
sizes="${STEWARD_BENCH_SIZES:-200 1000}"
# Relative paths are relative to the repository root, where the command runs.
cd "$root"
if [ ! -d "$data/snapshot-daocensus" ]; then
  echo "bench-round: skipped: $data/snapshot-daocensus is absent" >&2
  exit 0
fi
export STEWARD_MODELS_DIR="${STEWARD_MODELS_DIR:-$root/models}"
profile="${STEWARD_BENCH_PROFILE:-release}"
case "$profile" in
  release) flag="--release" ;;
  dev) flag="" ;;
  *) echo "bench-round: STEWARD_BENCH_PROFILE is release or dev, not $profile" >&2; exit 2 ;;
esac
cmd="cargo run${flag:+ $flag} --locked -q -p steward-agent --features testkit --example bench_round -- $data"
rows=""
# Each size without generation, then the largest again with the local model (STEWARD_BENCH_LLM=1).
last="${sizes##* }"
for run in $(for n in $sizes; do echo "$n:0"; done) "$last:1"; do
  n="${run%%:*}" llm="${run##*:}"
  echo "bench-round: STEWARD_BENCH_LLM=$llm $cmd $n" >&2
  json="$(STEWARD_BENCH_LLM=$llm $cmd "$n")"
  echo "$json"
  get() { python3 -c "import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print('none' if v is None else v)" "$json" "$1"; }
  rows="$rows| $(get decided) | $(get embedder) | $(get generator) ($(get judged) judged) | $(get round_secs) | $(get round_cpu_secs) | $(get embed_cpu_secs) | $(get per_proposal_ms) | $(get vote) / $(get ask) / $(get skip) | $(get questions) / $(get digest) | $(get errors) | $(get peak_rss_mib) MiB |
"
done
section="$(cat <<MD
<!-- bench:round -->
## A round of \`steward run\`, without generation and with the local model (issue 14)

$(date -u +%Y-%m-%d), $(nproc) cores (load average $(cut -d' ' -f1 /proc/loadavg) when it ended), $profile build. Targets: 1,000 open
proposals in under 30 s on 2 cores without generation, under 60 s with the local model.

| proposals | embedder | generator | wall s | CPU s | of which embedding (CPU s) | wall ms/proposal | vote / ask / skip | questions / digest | errors | peak RSS |
| ---: | --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |
$rows
Real DAO Census proposals (round-robin over the DAOs, made open), a fresh SQLCipher store, a
profile of 10 statements, one writing chunk and 12 earlier votes of the user's (so the voter
model backs every decision), all-MiniLM-L6-v2 in process (int8, one
single-threaded session per core; STEWARD_BENCH_EMBED=f32 for the F32 encoder), no signing key
(votes are not cast). The last row adds the local model (SmolLM2-135M on llama.cpp, in process,
\`STEWARD_BENCH_LLM=1\`): the round asks it only about the questions it opens (its reading is
shown to the person who answers and is not pooled, \`PoolWeights::llm\` = 0), so it costs a
few judgements a round, not one per proposal. One \`Pipeline\` round: prepare (pins, answers, todo), embed
(batched), inspect, decide over one profile snapshot, record, dispatch. CPU s counts every
thread; on a shared machine wall time exceeds CPU time / cores. The embedding column is the
floor: everything else in the round (inspect, decide, record, dispatch) is the difference
between the two CPU columns. Command: \`$cmd N\`
(or \`make bench\`).
<!-- /bench:round -->
MD
)"
out="$root/BENCHMARKS.md"
[ -f "$out" ] || printf '# Benchmarks\n\nWritten by `make bench`; figures are from one run on the machine named in each section.\n' > "$out"
python3 - "$out" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pat = re.compile(r"<!-- bench:round -->.*?<!-- /bench:round -->", re.S)
text = pat.sub(lambda _: section, text) if pat.search(text) else text.rstrip() + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "bench-round: wrote $out" >&2
