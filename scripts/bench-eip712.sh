#!/usr/bin/env bash
# `make bench` (eip712): EIP-712 Snapshot vote hash + sign + recover per second, Steward (Rust)
# against ethers v6 (node) in the same run on the same messages; writes its section of
# BENCHMARKS.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
n="${BENCH_EIP712_MESSAGES:-3000}"
tools="${STEWARD_TOOLS_DIR:-$root/tools/node_modules}"
if [ ! -d "$tools/ethers" ]; then
  echo "bench-eip712: skipped: ethers is not installed under $tools (scripts/setup-tools.sh)" >&2
  exit 0
fi
rust_cmd="cargo run --release --locked -q -p steward-eth --example bench_eip712 -- $n"
node_cmd="node crates/steward-eth/bench/eip712-ethers.js $n"
echo "bench-eip712: $rust_cmd; NODE_PATH=$tools $node_cmd" >&2
cargo build --release --locked -q -p steward-eth --example bench_eip712
load="$(cut -d' ' -f1 /proc/loadavg)"
rust="$($rust_cmd)"
node="$(NODE_PATH="$tools" $node_cmd)"
echo "$rust"
echo "$node"
get() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.1f}x')" "$1" "$2"; }
ours="$(get "$rust" steward_ops_per_sec)"
alloy_secp="$(get "$rust" alloy_secp256k1_signer_ops_per_sec)"
k256="$(get "$rust" k256_ops_per_sec)"
ethers="$(get "$node" ethers_ops_per_sec)"
section="$(cat <<MD
<!-- bench:eip712 -->
## EIP-712 Snapshot votes: hash + sign + recover (issue 6)

$(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs). $n Snapshot
\`Vote\` messages (a third each of the uint32, uint32[] and string layouts), each hashed
(EIP-712), signed and recovered and the address checked, single thread. Target: 20x ethers.
Load average (1 min) at the start: $load (other work shares the cores: both sides are slowed alike).

| implementation | ops/s | vs ethers v6 |
| --- | ---: | ---: |
| Steward: \`Key::sign_hash\` (libsecp256k1) + alloy recover (\`secp256k1\` feature) | $ours | $(ratio "$ours" "$ethers") |
| alloy \`Secp256k1Signer\` + recover (libsecp256k1) | $alloy_secp | $(ratio "$alloy_secp" "$ethers") |
| alloy \`PrivateKeySigner\` + k256 recover (pure Rust) | $k256 | $(ratio "$k256" "$ethers") |
| ethers 6.17 (\`TypedDataEncoder.hash\`, \`signingKey.sign\`, \`recoverAddress\`) | $ethers | 1.0x |

Commands: \`$rust_cmd\` and \`NODE_PATH=tools/node_modules $node_cmd\` (or \`make bench\`).
<!-- /bench:eip712 -->
MD
)"
out="$root/BENCHMARKS.md"
[ -f "$out" ] || printf '# Benchmarks\n\nWritten by `make bench`; figures are from one run on the machine named in each section.\n' > "$out"
python3 - "$out" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pat = re.compile(r"<!-- bench:eip712 -->.*?<!-- /bench:eip712 -->", re.S)
text = pat.sub(lambda _: section, text) if pat.search(text) else text.rstrip() + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "bench-eip712: wrote $out" >&2
