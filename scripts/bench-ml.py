#!/usr/bin/env python3
"""`make bench` for steward-ml: Steward's engines against their references, same machine, one run.

    scripts/bench-ml.py [--threads N] [--sentences 1000]

- generation: SmolLM2-135M Q4_1, greedy, 128 new tokens, same prompt and threads, Steward
  (llama-cpp-2) vs llama.cpp's own C API (bench/llama-ref.cpp linked against the same static
  libraries llama-cpp-sys-2 built);
- embeddings: sentences/s on real proposal paragraphs (../shared/data/proposal-texts),
  Steward (ONNX Runtime) vs sentence-transformers on PyTorch CPU (the venv of
  scripts/gen-embedding-fixture.py: several GB, created on first use, never by `make test`);
- batched generation: N different proposal paragraphs (N = 4, 8), greedy, 128 new tokens,
  answered one after the other vs decoded together in one llama.cpp batch (aggregate tokens/s);
- peak RSS of the Steward process after each stage, with both models loaded at the end.

Writes its own section of BENCHMARKS.md (between `<!-- bench:ml -->` markers).
"""

import argparse
import glob
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
VENV_PY = ROOT / ".cache" / "st-venv" / "bin" / "python"
DATA = ROOT.parent / "shared" / "data" / "proposal-texts"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
MODELS = Path(os.environ.get("STEWARD_MODELS_DIR", ROOT / "models"))
GGUF = MODELS / "smollm2-135m-instruct-q4_1.gguf"
# About 120 tokens with the template; the same for Steward and the reference.
PROMPT = (
    "Summarise this governance proposal in two sentences. This AIP proposes to onboard wstETH as "
    "collateral on Aave v3 Ethereum with a supply cap of 200,000 wstETH and a borrow cap of 3,000 "
    "wstETH. The risk parameters follow the recommendation of Gauntlet and Chaos Labs: LTV 68.5%, "
    "liquidation threshold 79.5%, liquidation bonus 7%, reserve factor 15%. The oracle is the "
    "wstETH/stETH exchange rate multiplied by the Chainlink ETH/USD feed. Voting is expected to "
    "open next week after the forum discussion concludes."
)


def log(msg):
    print(f"bench-ml: {msg}", file=sys.stderr, flush=True)


def paragraphs(n):
    out, seen = [], set()
    for corpus in ["aave-aips", "lido-lips", "makerdao-mips"]:
        for f in sorted((DATA / corpus / "md").glob("*.md")):
            for block in f.read_text(encoding="utf-8").split("\n\n"):
                block = " ".join(block.split())
                if len(block) < 60 or block[0] in "#|-*>`<[!" or block in seen:
                    continue
                seen.add(block)
                out.append(block)
    # Spread over the corpora, deterministic.
    step = max(1, len(out) // n)
    return out[::step][:n]


def st_bench(paras_file, threads):
    if not VENV_PY.exists():
        log("creating the sentence-transformers venv (scripts/gen-embedding-fixture.py)")
        subprocess.check_call([sys.executable, str(ROOT / "scripts" / "gen-embedding-fixture.py"), "--check"])
    code = f"""
import json, time, torch
torch.set_num_threads({threads})
from sentence_transformers import SentenceTransformer
m = SentenceTransformer({str(MODELS / 'all-minilm-l6-v2')!r}, device='cpu')
p = json.load(open({str(paras_file)!r}))
m.encode(p[:32], batch_size=32)
c = time.process_time(); t = time.perf_counter()
m.encode(p, batch_size=32, normalize_embeddings=True)
s = time.perf_counter() - t; c = time.process_time() - c
import sentence_transformers
print(json.dumps({{"sentences": len(p), "seconds": s, "sentences_per_s": len(p) / s, "cpu_seconds": c,
                  "version": sentence_transformers.__version__, "torch": torch.__version__}}))
"""
    out = subprocess.check_output([str(VENV_PY), "-c", code], stderr=subprocess.DEVNULL)
    return json.loads(out.decode().strip().splitlines()[-1])


def llama_ref(threads, prompt):
    libs = sorted(
        glob.glob(str(TARGET / "release" / "build" / "llama-cpp-sys-2-*" / "out" / "lib" / "libllama.a")),
        key=os.path.getmtime,
    )
    if not libs:
        raise SystemExit("no release build of llama-cpp-sys-2 under " + str(TARGET))
    lib = Path(libs[-1]).parent
    inc = lib.parent / "include"
    exe = CACHE / "llama-ref"
    src = ROOT / "crates" / "steward-ml" / "bench" / "llama-ref.cpp"
    subprocess.check_call(
        ["g++", "-O2", "-std=c++17", str(src), f"-I{inc}", f"-L{lib}", "-lllama", "-lggml",
         "-lggml-cpu", "-lggml-base", "-fopenmp", "-lpthread", "-o", str(exe)]
    )
    out = subprocess.check_output([str(exe), str(GGUF), str(threads), prompt])
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--sentences", type=int, default=1000)
    a = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    paras = paragraphs(a.sentences)
    paras_file = CACHE / "paragraphs.json"
    paras_file.write_text(json.dumps(paras, ensure_ascii=False))
    log(f"{len(paras)} paragraphs, {a.threads} threads")

    log("building the Steward bench (release)")
    t = time.time()
    subprocess.check_call(["cargo", "build", "--release", "--locked", "-p", "steward-ml", "--example", "bench",
                           "--example", "passes"])
    build_s = time.time() - t
    exe = TARGET / "release" / "examples" / "bench"
    log("running Steward")
    ours = json.loads(subprocess.check_output([str(exe), str(MODELS), str(paras_file), str(a.threads), PROMPT]))
    log("running the pass-cost probe")
    passes = subprocess.check_output(
        [str(TARGET / "release" / "examples" / "passes"), str(GGUF), str(a.threads)],
        text=True,
    ).strip()
    log("running llama.cpp (C API)")
    ref = llama_ref(a.threads, PROMPT)
    log("running sentence-transformers")
    st = st_bench(paras_file, a.threads)

    load_after = os.getloadavg()[0]
    g, e = ours["generation"], ours["embedding"]
    ratio = lambda x, y: f"{x / y:.2f}x"
    def batched_row(b):
        decode = f"{b['decode_speedup']:.2f}x" if b.get("decode_speedup") else "(prompts joined later passes)"
        return (
            f"| {b['n']} | {b['prompt_tokens'] / b['n']:.0f} / {b['single_tokens'] / b['n']:.0f} "
            f"| {100 * b['single_prompt_s'] / b['single_s']:.0f}% "
            f"| {b['single_tokens_per_s']:.1f} | {b['batch_tokens_per_s']:.1f} | {b['speedup']:.2f}x "
            f"| {decode} | {b['identical_texts']}/{b['n']} |"
        )
    batched_rows = "\n".join(batched_row(b) for b in ours["batched"])
    rss_rows = "\n".join(
        f"| {st['stage']} | {st['peak_mb']:.0f} | {st['rss_mb']:.0f} |" for st in ours["rss_stages"]
    )
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    md = f"""<!-- bench:ml -->
## Local models (issue 3)

`scripts/bench-ml.py --threads {a.threads} --sentences {a.sentences}` (or `make bench`) on
{cpu}, {a.threads} threads, {time.strftime('%Y-%m-%d')}. One run, same machine, same inputs.
Load average (1 min) before/after: {load_before:.1f}/{load_after:.1f}; anything well above 0 means
other work shared the cores and the figures are noisy.

### Generation: SmolLM2-135M-Instruct Q4_1, greedy, 128 new tokens (best of 3)

| | prompt tokens/s | decode tokens/s |
| --- | ---: | ---: |
| Steward (llama-cpp-2 0.1.160) | {g['prompt_tokens_per_s']:.1f} | {g['decode_tokens_per_s']:.1f} |
| llama.cpp C API, same vendored build (`bench/llama-ref.cpp`) | {ref['prompt_tokens_per_s']:.1f} | {ref['decode_tokens_per_s']:.1f} |
| ratio | {ratio(g['prompt_tokens_per_s'], ref['prompt_tokens_per_s'])} | {ratio(g['decode_tokens_per_s'], ref['decode_tokens_per_s'])} |

Prompt: {g['prompt_tokens']} tokens (Steward) / {ref['prompt_tokens']} (reference); the chat template
is the model's own. Both set n_threads = n_threads_batch = {a.threads}. (Before 2026-11-22 a comment in
`llama-ref.cpp` swallowed the reference's thread settings, so it ran on llama.cpp's default of 4
threads: on a loaded 2-core machine, 4 spinning threads win a bigger share of the cores, which is
where the earlier 0.73x/0.79x came from.)

### Batched generation: triaging several proposals at once

Different proposal paragraphs (up to 600 characters each) behind "Summarise this governance
proposal in two sentences.", greedy, up to 128 new tokens each. Single: `Generator::generate` one
after the other; batched: one `Generator::generate_batch` call with the default options (8
sequences at once, one KV stream each, continuous batching: a waiting request joins as soon as
a sequence ends). End to end is all generated tokens over all wall time, prompts included;
decode phase is the same after the pass that read the prompts (llama-batched-bench's S_TG),
where every request joined that first pass.

| prompts | prompt / answer tokens (mean) | prompt share of single time | single tokens/s | batched tokens/s | end to end | decode phase | identical answers |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
{batched_rows}

Reading a prompt is already one batched pass per request in a single stream, so batching only
speeds up the answer tokens: with a prompt share p and a decode-phase gain k, the end-to-end gain
is 1 / (p + (1 - p) / k). What a decode pass costs as it carries more sequences, on the same GGUF
and threads (`cargo run --release -p steward-ml --example passes -- GGUF {a.threads}`), bounds k:
a pass of B tokens costs at least B prompt tokens read together.

{passes}

### Embeddings: all-MiniLM-L6-v2 on {e['sentences']} proposal paragraphs

| | seconds | sentences/s | sentences per CPU-second |
| --- | ---: | ---: | ---: |
| Steward ({e['engine']}) | {e['seconds']:.2f} | {e['sentences_per_s']:.1f} | {e['sentences'] / e['cpu_seconds']:.1f} |
| sentence-transformers {st['version']}, torch {st['torch']} CPU | {st['seconds']:.2f} | {st['sentences_per_s']:.1f} | {st['sentences'] / st['cpu_seconds']:.1f} |
| ratio | | {ratio(e['sentences_per_s'], st['sentences_per_s'])} | {ratio(st['cpu_seconds'], e['cpu_seconds'])} |

Both tokenize inside the timed call. CPU-seconds (all threads, user + system) are less
sensitive than wall time to other work on the machine; both engines spin-wait a little.

### Memory

Peak RSS of the Steward bench process with both models loaded and used: {ours['peak_rss_mb']:.0f} MB
(target: under 400 MB). By stage (VmHWM is the peak so far, VmRSS the resident size then):

| stage | peak MB | resident MB |
| --- | ---: | ---: |
{rss_rows}

Release build of the bench example: {build_s:.0f} s (incremental; a clean build compiles llama.cpp).
<!-- /bench:ml -->"""
    out = ROOT / "BENCHMARKS.md"
    text = out.read_text() if out.exists() else (
        "# Benchmarks\n\nWritten by `make bench`; figures are from one run on the machine named in each section.\n"
    )
    pat = re.compile(r"<!-- bench:ml -->.*?<!-- /bench:ml -->", re.S)
    text = pat.sub(lambda _: md, text) if pat.search(text) else text.rstrip() + "\n\n" + md + "\n"
    out.write_text(text)
    print(md)


if __name__ == "__main__":
    main()
