#!/usr/bin/env python3
"""Upper bounds for blind vote prediction on a votes.csv (docs/eval.md, "Numbers").

    scripts/eval-bounds.py [VOTES_CSV] [--split 0.7] [--min-votes 20] [--json]

Uses the same split as `steward eval votes` (each voter's votes sorted by order_rank, the first
floor(split * n) train, the rest test) and scores predictors that CHEAT, reading labels a blind
model must never see. If even they stay far below a target, no title-only model reaches it:

- proposal majority: each test vote predicted as the majority of ALL votes on its proposal
  (train and test, every voter);
- voter constant: each voter's most common choice among their own TEST votes;
- voter x class constant: the same per (voter, proposal class), the class being whether the
  title names a grant programme (STIP / LTIPP / grant);
- best of both: per voter, whichever of the two above scores better on that voter's test votes.

Standard library only; reads nothing but the voter, proposal_id, choice, title and order_rank
columns.
"""

import argparse
import collections
import csv
import json
import math
import re
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "arbitrum-snapshot-delegates" / "votes.csv"
GRANT = re.compile(r"\b(stip|ltipp|grants?)\b", re.IGNORECASE)


def split(rows, frac, min_votes):
    by = collections.defaultdict(list)
    for r in rows:
        by[r["voter"]].append(r)
    train, test = [], []
    for rs in by.values():
        if len(rs) < min_votes:
            continue
        rs.sort(key=lambda r: float(r["order_rank"]))
        k = math.floor(frac * len(rs))
        train += rs[:k]
        test += rs[k:]
    return train, test


def accuracy(test, predict):
    return sum(predict(r) == r["choice"] for r in test) / len(test)


def constant_oracle(test, key):
    counts = collections.defaultdict(collections.Counter)
    for r in test:
        counts[key(r)][r["choice"]] += 1
    return accuracy(test, lambda r: counts[key(r)].most_common(1)[0][0])


def best_of_both(test, everyone, grant):
    cls = collections.defaultdict(collections.Counter)
    for r in test:
        cls[(r["voter"], grant(r))][r["choice"]] += 1
    per_voter = collections.defaultdict(lambda: [0, 0])
    for r in test:
        hits = per_voter[r["voter"]]
        hits[0] += everyone[r["proposal_id"]].most_common(1)[0][0] == r["choice"]
        hits[1] += cls[(r["voter"], grant(r))].most_common(1)[0][0] == r["choice"]
    return sum(max(h) for h in per_voter.values()) / len(test)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("votes", nargs="?", default=str(DEFAULT))
    ap.add_argument("--split", type=float, default=0.7)
    ap.add_argument("--min-votes", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    path = Path(a.votes)
    if not path.exists():
        print(f"eval-bounds: {path}: not found (../shared/data absent?)", file=sys.stderr)
        return 2
    with path.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r.get("order_rank") not in (None, "")]
    train, test = split(rows, a.split, a.min_votes)

    everyone = collections.defaultdict(collections.Counter)
    for r in rows:
        everyone[r["proposal_id"]][r["choice"]] += 1
    train_counts = collections.defaultdict(collections.Counter)
    for r in train:
        train_counts[r["voter"]][r["choice"]] += 1

    grant = lambda r: bool(GRANT.search(r["title"] or ""))  # noqa: E731
    out = {
        "votes": str(path),
        "n_test": len(test),
        "n_voters": len({r["voter"] for r in test}),
        "grant_share_of_test": sum(map(grant, test)) / len(test),
        "baseline_always_for": accuracy(test, lambda r: "For"),
        "baseline_voter_majority": accuracy(
            test, lambda r: train_counts[r["voter"]].most_common(1)[0][0] if train_counts[r["voter"]] else "For"
        ),
        "oracle_proposal_majority": accuracy(test, lambda r: everyone[r["proposal_id"]].most_common(1)[0][0]),
        "oracle_voter_constant": constant_oracle(test, lambda r: r["voter"]),
        "oracle_voter_class_constant": constant_oracle(test, lambda r: (r["voter"], grant(r))),
        "oracle_best_of_both": best_of_both(test, everyone, grant),
    }
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{out['n_test']} test votes, {out['n_voters']} voters, {out['grant_share_of_test']:.0%} on grant proposals")
        for k, v in out.items():
            if k.startswith(("baseline", "oracle")):
                print(f"  {k:<30} {v:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
