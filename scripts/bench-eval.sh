#!/usr/bin/env bash
# `make bench` (eval): the decision path (decide's core and policy) and, beside it, the per-voter
# vote model alone at threshold 0.9, on real Arbitrum delegate votes, blind and live, with and
# without MiniLM title embeddings; writes the figures and the commands into BENCHMARKS.md (its
# own section).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${STEWARD_SHARED_DATA:-../shared/data}"
cd "$root"
votes="$data/arbitrum-snapshot-delegates/votes.csv"
if [ ! -f "$votes" ]; then
  echo "bench-eval: skipped: $votes is absent" >&2
  exit 0
fi
# STEWARD_BIN picks an already built binary (e.g. a debug one); else a release build.
bin="${STEWARD_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked -q --bin steward
  bin="${CARGO_TARGET_DIR:-target}/release/steward"
fi
build="$(basename "$(dirname "$bin")") build"
base="steward eval votes --train $votes --split 0.7 --min-votes 20 --threshold 0.9 --json"
rows=""
for mode in blind live; do
  for embed in "" "--embed"; do
    echo "bench-eval: $base --mode $mode $embed" >&2
    json="$("$bin" eval votes --train "$votes" --split 0.7 --min-votes 20 --threshold 0.9 --json --mode "$mode" $embed)"
    rows+="$(python3 - "$json" "$mode" "$embed" <<'PY'
import json, sys
d = json.loads(sys.argv[1])["data"]
f = lambda x: "-" if x is None else f"{x:.3f}"
b = d["baselines"]
sim = "MiniLM" if sys.argv[3] else "TF-IDF"
v = d["voter_model"]
p = d["policy"]
print(f"| {sys.argv[2]} | {sim} | voter model @ 0.9 (before) | {f(v['forced_accuracy'])} | {f(v['auto_accuracy'])} | {f(v['coverage'])} | - | {f(v['ece'])} |")
print(f"| {sys.argv[2]} | {sim} | decision path (now) | {f(d['forced_accuracy'])} | {f(d['auto_accuracy'])} | {f(d['coverage'])} | {p['vote']} / {p['ask']} / {p['skip']} | {f(d['ece'])} |")
PY
)"$'\n'
    if [ "$mode" = blind ] && [ -z "$embed" ]; then
      read -r n_test n_voters always major < <(python3 - "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])["data"]
b = d["baselines"]
print(d["n_test"], d["n_voters"], f"{b['always_for']:.3f}", f"{b['voter_majority']:.3f}")
PY
)
      table="$(python3 - "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])["data"]
print("| confidence | n | mean confidence | accuracy |")
print("| --- | ---: | ---: | ---: |")
for b in d["reliability"]:
    print(f"| [{b['lo']:.1f}, {b['hi']:.1f}) | {b['n']} | {b['confidence']:.3f} | {b['accuracy']:.3f} |")
PY
)"
    fi
  done
done
section="$(cat <<MD
<!-- bench:eval -->
## Vote prediction on real delegate votes (issues 5 and 14)

$(date -u +%Y-%m-%d), $(nproc) cores, $build. Data: \`arbitrum-snapshot-delegates/votes.csv\` (titles only,
no statements or writing), voters with at least 20 votes, each voter's votes split 0.7 / 0.3 in
time by \`order_rank\`: ${n_test} test votes of ${n_voters} voters; always-For ${always}, voter-majority ${major}.
"Decision path" decides each row with decide's core (\`steward_core::gather\`/\`conclude\`) and
its default policy (vote at confidence >= 0.85 + 0.1 x importance, chosen on a validation slice by \`scripts/eval-policy-sweep.sh\`, else ask from importance 0.4,
else skip); "voter model" is the model alone, voting at confidence >= 0.9 (the figures before
issue 14). Auto accuracy is the accuracy on the votes cast, coverage their share.
Targets (issue 14): live forced >= 0.82, auto >= 0.92 at coverage >= 0.50; blind auto >= 0.92 at
coverage >= 0.25; ECE <= 0.05 (docs/eval.md says which are met).

| mode | title similarity | what decides | forced acc. | auto acc. | coverage | vote / ask / skip | ECE |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |
${rows}
Reliability of the decision path, blind, TF-IDF:

${table}

Command: \`$base --mode blind|live [--embed]\` (or \`make bench\`; \`--embed\` runs MiniLM on the
126 titles in the confined model worker).
<!-- /bench:eval -->
MD
)"
out="$root/BENCHMARKS.md"
python3 - "$out" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pat = re.compile(r"<!-- bench:eval -->.*?<!-- /bench:eval -->", re.S)
text = pat.sub(lambda _: section, text) if pat.search(text) else text.rstrip() + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "bench-eval: wrote $out" >&2
