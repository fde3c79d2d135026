"""The numpy side of `scripts/bench-mech.sh`: pairwise CLR and COCM (Gitcoin's qf-calculator
form, Markov connection, harsh, project clusters) written for the bench from the formulas in
docs/mechanisms.md, vectorised the way numpy wants and sparse where the round is sparse: no
donor x project matrix. Reads the files `bench_mech gen-*` writes.

    python bench/mech_numpy.py DIR pairwise|cocm [FIRST_K_PROJECTS]
"""

import json
import resource
import sys
import time

import numpy as np


def load(d):
    meta = json.load(open(f"{d}/meta.json"))
    donor = np.fromfile(f"{d}/donor.u32", dtype=np.uint32)
    proj = np.fromfile(f"{d}/project.u32", dtype=np.uint32)
    amt = np.fromfile(f"{d}/amount.f64", dtype=np.float64)
    return donor, proj, amt, meta["donors"], meta["projects"]


def by_project(donor, proj, amt, n_proj):
    order = np.lexsort((donor, proj))
    donor, proj, amt = donor[order], proj[order], amt[order]
    starts = np.searchsorted(proj, np.arange(n_proj + 1))
    return donor, proj, amt, starts


def pairwise(donor, proj, amt, n_donors, n_proj, m=25.0):
    donor, proj, amt, starts = by_project(donor, proj, amt, n_proj)
    s = np.sqrt(amt)
    sizes = np.diff(starts)
    a_idx, b_idx, p_idx = [], [], []
    # Every pair of co-donors of a project, built for all projects of one size at once.
    for n in np.unique(sizes):
        if n < 2:
            continue
        ps = np.nonzero(sizes == n)[0]
        iu, ju = np.triu_indices(n, 1)
        base = starts[ps][:, None]
        a_idx.append((base + iu).ravel())
        b_idx.append((base + ju).ravel())
        p_idx.append(np.repeat(ps, len(iu)))
    a = np.concatenate(a_idx)
    b = np.concatenate(b_idx)
    p = np.concatenate(p_idx)
    w = s[a] * s[b]
    # Donors ascend within a project, so (donor[a], donor[b]) names each pair one way.
    key = donor[a].astype(np.int64) * n_donors + donor[b]
    _, inv = np.unique(key, return_inverse=True)
    overlap = np.bincount(inv, weights=w)
    return np.bincount(p, weights=w * m / (m + overlap[inv]), minlength=n_proj)


def cocm(donor, proj, amt, n_donors, n_proj, first, harsh=True):
    # Clusters are the projects, a donor's weight in one the amount given to it.
    d_order = np.lexsort((proj, donor))
    dd, dp, da = donor[d_order], proj[d_order], amt[d_order]
    dstart = np.searchsorted(dd, np.arange(n_donors + 1))
    dsum = np.add.reduceat(da, dstart[:-1]) if len(da) else da
    deg = np.diff(dstart)
    dsum = np.where(deg > 0, dsum, 1.0)
    norm = da / np.repeat(dsum, deg)  # N(i, g)
    csum = np.bincount(dp, weights=da, minlength=n_proj)
    users = da / csum[dp]  # U(g, i)
    # PJP(g, h) = sum_i U(g, i) N(i, h): clusters x clusters (dense, 8 * n_proj^2 bytes),
    # accumulated from each donor's pairs of clusters, donors grouped by degree.
    flat_parts, val_parts = [], []
    for k in np.unique(deg):
        if k == 0:
            continue
        ds = np.nonzero(deg == k)[0]
        base = dstart[ds][:, None]
        ii, jj = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        ga = (base + ii.ravel()).ravel()
        hb = (base + jj.ravel()).ravel()
        flat_parts.append(dp[ga].astype(np.int64) * n_proj + dp[hb])
        val_parts.append(users[ga] * norm[hb])
    pjp = np.bincount(np.concatenate(flat_parts), weights=np.concatenate(val_parts),
                      minlength=n_proj * n_proj).reshape(n_proj, n_proj)
    pdonor, _, pamt, pstart = by_project(donor, proj, amt, n_proj)
    out = np.zeros(first)
    for p in range(first):
        ds = pdonor[pstart[p]:pstart[p + 1]]
        c = pamt[pstart[p]:pstart[p + 1]]
        if len(ds) == 0:
            continue
        # The clusters of p's donors, and each donor's normalised weights over them.
        spans = [np.arange(dstart[i], dstart[i + 1]) for i in ds]
        rows = np.repeat(np.arange(len(ds)), [len(x) for x in spans])
        cols_all = np.concatenate(spans)
        g = np.unique(dp[cols_all])
        nloc = np.zeros((len(ds), len(g)))
        nloc[rows, np.searchsorted(g, dp[cols_all])] = norm[cols_all]
        k = nloc @ pjp[np.ix_(g, g)]
        k = np.maximum(k, nloc > 0)
        kk = (1 - k) * c[:, None] if harsh else k * np.sqrt(c)[:, None] + (1 - k) * c[:, None]
        pp = kk.T @ nloc  # P'(h, g)
        pm = np.sqrt(pp * pp.T)
        np.fill_diagonal(pm, 0.0)
        out[p] = pm.sum()
    return out


def main():
    d, mech = sys.argv[1], sys.argv[2]
    donor, proj, amt, nd, npj = load(d)
    first = int(sys.argv[3]) if len(sys.argv) > 3 else npj
    t = time.perf_counter()
    if mech == "pairwise":
        out = pairwise(donor, proj, amt, nd, npj)
    else:
        out = cocm(donor, proj, amt, nd, npj, min(first, npj))
    secs = time.perf_counter() - t
    out.astype(np.float64).tofile(f"{d}/out-numpy-{mech}.f64")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"impl": "numpy " + np.__version__, "mech": mech, "projects": len(out),
                      "seconds": round(secs, 4), "peak_rss_mb": round(rss, 1),
                      "total": float(out.sum())}))


if __name__ == "__main__":
    main()
