#!/usr/bin/env python3
"""The private-information judge's cost and timing (BENCHMARKS.md, section judge).

1. Overhead: `steward judge --min-ms 0` against a plain `steward model generate` of the same
   document and question under the same enum schema (both start the confined worker and load
   SmolLM2 each time; the judge also hashes the files, opens the encrypted store and records the
   judgement). Median of N runs each, interleaved.
2. Timing: `steward judge --min-ms M` on documents of different length and content; the wall
   time with padding should not depend on the document (spread across documents vs. within).

Usage: scripts/bench-judge.py [--bin target/release/steward] [--runs 5] [--min-ms 3000]
Prints the Markdown section on stdout; the models must be installed (`make models`).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

QUESTION = "May either party terminate the agreement early?"
VERDICTS = ["yes", "no", "unclear"]
CLAUSE = "Either party may terminate this agreement with 30 days written notice. "


def docs(d):
    out = {}
    out["tiny (80 B)"] = "SERVICE AGREEMENT. " + CLAUSE[:61]
    out["4 KB prose"] = ("SERVICE AGREEMENT. " + CLAUSE * 60)[:4096]
    out["2 KB digits"] = "".join(str(i * 7919 % 10) for i in range(2048))
    out["12 KB prose"] = ("SERVICE AGREEMENT. " + CLAUSE * 180)[:12288]
    paths = {}
    for i, (k, v) in enumerate(out.items()):
        p = os.path.join(d, f"doc{i}.txt")
        with open(p, "w") as f:
            f.write(v)
        paths[k] = p
    return paths


def timed(cmd, env):
    t = time.monotonic()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return time.monotonic() - t, r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/steward")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--min-ms", type=int, default=3000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ)
        env["STEWARD_HOME"] = os.path.join(d, "home")
        env["STEWARD_PASSPHRASE"] = "bench-judge"
        subprocess.run([a.bin, "init"], env=env, check=True, capture_output=True)
        paths = docs(d)
        schema = os.path.join(d, "enum.json")
        with open(schema, "w") as f:
            json.dump({"enum": VERDICTS}, f)
        doc = paths["4 KB prose"]
        text = open(doc).read()
        plain_cmd = [a.bin, "model", "generate", "--schema", schema, "--max-tokens", "11",
                     f"Question: {QUESTION}\n\n{text}\n\nAnswer with one of: yes, no, unclear."]
        judge = [a.bin, "judge", "--json", "--question", QUESTION, "--verdicts", ",".join(VERDICTS)]
        plain, judged = [], []
        for _ in range(a.runs):
            plain.append(timed(plain_cmd, env)[0])
            judged.append(timed(judge + ["--min-ms", "0", "--private", doc], env)[0])
        pm, jm = statistics.median(plain), statistics.median(judged)
        rows = []
        unpadded = {}
        for name, p in paths.items():
            ts, us, verdicts = [], [], set()
            for _ in range(a.runs):
                t, out = timed(judge + ["--min-ms", str(a.min_ms), "--private", p], env)
                ts.append(t)
                verdicts.add(json.loads(out)["data"]["verdict"])
                us.append(timed(judge + ["--min-ms", "0", "--private", p], env)[0])
            unpadded[name] = statistics.mean(us)
            rows.append((name, statistics.mean(us), statistics.mean(ts), statistics.pstdev(ts),
                         min(ts), max(ts), ",".join(sorted(verdicts))))
        load = open("/proc/loadavg").read().split()[0]
        print("<!-- bench:judge -->")
        print("## The private-information judge: overhead and padding (issue 20 item 2)")
        print()
        print(f"{time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores (load average "
              f"{load} at the end), `{a.bin}`, {a.runs} runs each. Command: "
              f"`scripts/bench-judge.py --bin {a.bin} --runs {a.runs} --min-ms {a.min_ms}`.")
        print()
        print("| | median wall s |")
        print("| --- | ---: |")
        print(f"| `steward model generate` (worker + SmolLM2 load + enum-constrained answer), 4 KB document | {pm:.2f} |")
        print(f"| `steward judge --min-ms 0`, same document and question | {jm:.2f} |")
        print(f"| overhead (hashing, judge worker with the file readable, store open + record + audit) | {jm - pm:+.2f} ({(jm / pm - 1) * 100:+.0f} %) |")
        print()
        print(f"Padding to `--min-ms {a.min_ms}`: wall seconds per document (mean, population "
              f"stdev, min, max over {a.runs} runs) against the same judgement unpadded.")
        print()
        print("| document | unpadded mean | padded mean | stdev | min | max | verdict(s) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in rows:
            print(f"| {r[0]} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:.3f} | {r[6]} |")
        means = [r[2] for r in rows]
        print()
        print(f"Spread of the padded means across documents: {max(means) - min(means):.3f} s "
              f"(unpadded: {max(unpadded.values()) - min(unpadded.values()):.3f} s).")
        print("<!-- /bench:judge -->")


if __name__ == "__main__":
    main()
