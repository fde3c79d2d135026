#!/usr/bin/env python3
"""red-dwarf's Polis pipeline on one input, for scripts/bench-consensus.sh.

Usage: bench-consensus-reddwarf.py INPUT GROUPS_OUT
INPUT is Polis's open-data votes.csv (agree = 1) or a Polis export folder (votes.json,
comments.json). Prints {seconds, participants, clustered, groups, peak_rss_mib}; writes
`pid,group` lines for the participants it clusters.
"""
import csv
import json
import os
import resource
import sys
import time

from reddwarf.implementations.polis import run_pipeline


def load(path):
    if os.path.isdir(path):
        votes = json.load(open(os.path.join(path, "votes.json")))
        comments = json.load(open(os.path.join(path, "comments.json")))
        out = [
            {
                "participant_id": v.get("participant_id", v.get("pid")),
                "statement_id": v.get("statement_id", v.get("tid")),
                "vote": v["vote"],
                "modified": float(v["modified"]),
            }
            for v in votes
        ]
        mod_out = [c.get("statement_id", c.get("tid")) for c in comments if c.get("moderated", c.get("mod")) == -1]
        meta = [c.get("statement_id", c.get("tid")) for c in comments if c.get("is_meta")]
        return out, mod_out, meta
    out = []
    with open(path) as f:
        for r in csv.DictReader(f):
            out.append(
                {
                    "participant_id": int(r["voter-id"]),
                    "statement_id": int(r["comment-id"]),
                    "vote": int(r["vote"]),
                    "modified": int(r["timestamp"]),
                }
            )
    # The later vote wins, as in Polis (red-dwarf's pivot wants one vote per cell).
    last = {}
    for v in sorted(out, key=lambda v: v["modified"]):
        last[(v["participant_id"], v["statement_id"])] = v
    return list(last.values()), [], []


def main():
    path, groups_out = sys.argv[1], sys.argv[2]
    votes, mod_out, meta = load(path)
    t0 = time.perf_counter()
    result = run_pipeline(
        votes=votes,
        mod_out_statement_ids=mod_out,
        meta_statement_ids=meta,
        random_state=0,
    )
    seconds = time.perf_counter() - t0
    df = result.participants_df
    clustered = df[df["cluster_id"].notna()]
    with open(groups_out, "w") as f:
        for pid, gid in clustered["cluster_id"].items():
            f.write(f"{int(pid)},{int(gid)}\n")
    print(
        json.dumps(
            {
                "seconds": seconds,
                "participants": int(len(df)),
                "clustered": int(len(clustered)),
                "groups": int(clustered["cluster_id"].nunique()),
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
