#!/usr/bin/env bash
# `make bench` (mechanisms, issue 17): pairwise CLR and COCM (Gitcoin form, harsh, project
# clusters) in Rust (crates/steward-core/examples/bench_mech.rs) against numpy
# (bench/mech_numpy.py) on the same files: GR3 and a synthetic sparse round of 1,000,000
# contributions x 10,000 projects x 100,000 donors. One thread each (BLAS pinned to 1).
# Writes BENCHMARKS.md (its section).
#
#   numpy: a venv at $STEWARD_BENCH_MECH_DIR (default ~/.cache/steward/bench-mech) from
#          scripts/bench-mech.lock, or BENCH_MECH_PYTHON=/path/to/python with that numpy.
#   BENCH_MECH_COCM_PROJECTS: synthetic COCM runs on the first 1 and the first N projects
#          (default 200); each project's figure is computed on its own, so the two runs give the
#          set-up cost and the cost per project, and from them the whole round's.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
lock="$root/scripts/bench-mech.lock"
want="$(grep -Eo '^numpy==[0-9.]+' "$lock" | cut -d= -f3)"
py="${BENCH_MECH_PYTHON:-}"
if [[ -z "$py" ]]; then
  dir="${STEWARD_BENCH_MECH_DIR:-$HOME/.cache/steward/bench-mech}"
  if [[ ! -x "$dir/venv/bin/python" ]]; then
    python3 -m venv "$dir/venv"
    "$dir/venv/bin/pip" install -q --require-hashes -r "$lock"
  fi
  py="$dir/venv/bin/python"
fi
have="$("$py" -c 'import numpy; print(numpy.__version__)')"
[[ "$have" == "$want" ]] || { echo "bench-mech: numpy $have, the lock pins $want" >&2; exit 1; }
cores="$(nproc --all)"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
k="${BENCH_MECH_COCM_PROJECTS:-200}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
build="cargo build --release --locked -q -p steward-core --example bench_mech"
$build
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_mech"
"$bin" gen-gr3 "$work/gr3"
"$bin" gen-synth "$work/synth" 1000000 10000 100000
results=()
for case in "gr3 pairwise" "gr3 cocm" "synth pairwise" "synth cocm 1" "synth cocm $k"; do
  set -- $case
  r="$("$bin" run "$work/$1" "$2" ${3:-})"
  n="$("$py" bench/mech_numpy.py "$work/$1" "$2" ${3:-})"
  # The two implementations must agree before their times mean anything.
  diff="$("$py" -c "import numpy as np,sys; a=np.fromfile(sys.argv[1]); b=np.fromfile(sys.argv[2]); print('%.1e' % (np.abs(a-b)/np.maximum(np.abs(b),1e-300)).max())" "$work/$1/out-rust-$2.f64" "$work/$1/out-numpy-$2.f64")"
  echo "bench-mech: $1 $2 rust $r" >&2
  echo "bench-mech: $1 $2 numpy $n (max relative difference $diff)" >&2
  results+=("$1|$2|$r|$n|$diff")
done
table="$("$py" - "${results[@]}" <<'PY'
import json, sys
rows = [r.split("|") for r in sys.argv[1:]]
name = {"pairwise": "pairwise CLR (M = 25)", "cocm": "COCM, Gitcoin form, harsh"}
where = {"gr3": "GR3 (1,944 pairs, 102 grants, 514 donors)",
         "synth": "synthetic (999,491 pairs, 10,000 projects, 100,000 donors)"}
cocm = {}
for data, mech, r, n, diff in rows:
    r, n = json.loads(r), json.loads(n)
    label = where[data]
    if data == "synth" and mech == "cocm":
        cocm[r["projects"]] = (r, n)
        label += f", first {r['projects']} project" + ("s" if r["projects"] > 1 else "")
    print(f"| {name[mech]} | {label} | {r['seconds']:.3f} s | {r['peak_rss_mb']:.0f} MiB | "
          f"{n['seconds']:.3f} s | {n['peak_rss_mb']:.0f} MiB | {n['seconds'] / r['seconds']:.0f}x | {diff} |")
if len(cocm) == 2:
    (k1, (r1, n1)), (k2, (r2, n2)) = sorted(cocm.items())
    rp = (r2["seconds"] - r1["seconds"]) / (k2 - k1)
    npp = (n2["seconds"] - n1["seconds"]) / (k2 - k1)
    print(f"| {name['cocm']} | synthetic, per project (from the two runs above) | {rp * 1000:.1f} ms | | "
          f"{npp * 1000:.1f} ms | | {npp / rp:.0f}x | |")
    rf = r1["seconds"] + rp * 9999
    nf = n1["seconds"] + npp * 9999
    print(f"| {name['cocm']} | synthetic, all 10,000 projects (extrapolated) | {rf:.0f} s | | "
          f"{nf:.0f} s | | {nf / rf:.0f}x | |")
PY
)"
section="$(cat <<MD
<!-- bench:mech -->
## Mechanisms: pairwise CLR and COCM, Rust against numpy (issue 17)

$(date -u +%Y-%m-%d), $cores cores shared with other work (load average $(cut -d' ' -f1 /proc/loadavg) at the end), one thread each, numpy $want with BLAS on one thread.

| mechanism | round | Rust | Rust peak RSS | numpy | numpy peak RSS | speed-up | max rel. difference |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
$table

Times cover building the sparse round and the mechanism, not reading the files. Both sides are
sparse where the round is: Rust walks compressed rows (pairwise: one donor-sized scratch row,
each donor's later co-donors found by a cursor per project; COCM: a sparse cluster-to-cluster
reach table built once, then per project K (donors x the project's clusters), never a clusters
x clusters matrix); numpy builds every co-donor pair with \`triu_indices\` per project size and
groups them with \`np.unique\` (pairwise), and a dense cluster x cluster PJP with per-project
BLAS products (COCM). Neither allocates a donor x project matrix. The issue's target is 50x:
pairwise reaches it; COCM does not. Its pairs of clusters partly factor: a cluster holding one
of the project's donors (all but about 47 of the 950 here) has P'(h,g) = N(i,g) K(i,h), one
product, so two such clusters' term is a product of square roots and those pairs sum through a
donors x donors matrix (100 x 100) instead of 456,000 square roots; pairs with the other
clusters are summed one by one. What is left is each donor's connection to each of the
project's clusters, read from the reach rows of the donor's clusters (about 1.06 M entries,
10.6 MB per project; Gitcoin's connection is a walk probability, non-zero for every such pair
on project clusters, so no pair factors around "unconnected" or "connected"): most of Rust's
time. numpy could use the same factoring (the donors x donors matrix is one more product); it
runs the formula as written. docs/mechanisms.md has the profile and per-project CPU times
measured back to back with the previous code (wall times here move with the load on the
shared cores).
Command: \`scripts/bench-mech.sh\` (or \`make bench\`).
<!-- /bench:mech -->
MD
)"
out="$root/BENCHMARKS.md"
[ -f "$out" ] || printf '# Benchmarks\n\nWritten by `make bench`; figures are from one run on the machine named in each section.\n' > "$out"
python3 - "$out" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pat = re.compile(r"<!-- bench:mech -->.*?<!-- /bench:mech -->", re.S)
text = pat.sub(lambda _: section, text) if pat.search(text) else text.rstrip() + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "bench-mech: wrote $out" >&2
