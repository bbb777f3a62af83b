"""Golden values for medseg's Wilcoxon signed-rank test and seed spread
(crates/medseg/src/metrics/stats.rs), from SciPy.

    .venv/bin/python tools/golden/gen_stats.py   # writes crates/medseg/tests/fixtures/golden/stats.json

Cases: the exact distribution (no ties, no zeros, n <= 50; SciPy's `method="auto"` picks it),
and the normal approximation (`method="asymptotic"`, no continuity correction) for n > 50 and
for differences with ties or zeros, which medseg always tests with the normal approximation.
"""

import numpy as np
import scipy
from scipy import stats

from common import f64, versions, write

SEED = 20261205


def case(name, d, method):
    d = np.asarray(d, dtype=np.float64)
    res = stats.wilcoxon(d, zero_method="wilcox", correction=False, alternative="two-sided",
                         method=method)
    nz = d[d != 0]
    ranks = stats.rankdata(np.abs(nz))
    w_plus = float(ranks[nz > 0].sum())
    return {
        "name": name,
        "differences": [float(v) for v in d],
        "scipy_method": method,
        "w_plus": f64(w_plus),
        "statistic": f64(res.statistic),
        "p_value": f64(res.pvalue),
    }


def main():
    rng = np.random.default_rng(SEED)
    cases = [
        case("exact n=5 all positive", [0.1, 0.2, 0.3, 0.4, 0.5], "auto"),
        case("exact n=10", rng.normal(0.01, 0.02, 10), "auto"),
        case("exact n=20 (DRIVE test images)", rng.normal(0.004, 0.01, 20), "auto"),
        case("exact n=20 no shift", rng.normal(0.0, 0.01, 20), "auto"),
        case("exact n=50 (PH2 test images)", rng.normal(0.003, 0.02, 50), "auto"),
        case("normal n=80", rng.normal(0.002, 0.02, 80), "auto"),
        case("normal with ties", np.round(rng.normal(0.0, 0.02, 30), 2), "asymptotic"),
        case("normal with zeros", np.concatenate([[0.0, 0.0, 0.0], rng.normal(0.01, 0.02, 25)]),
             "asymptotic"),
    ]
    for c in cases:
        if c["scipy_method"] == "auto":
            # SciPy's auto choice is the exact test exactly where medseg's is.
            d = np.asarray(c["differences"])
            exact = len(d) <= 50 and not np.any(d == 0) and len(np.unique(np.abs(d))) == len(d)
            c["medseg_method"] = "exact" if exact else "normal"
        else:
            c["medseg_method"] = "normal"
    spreads = []
    for values in [[0.80, 0.82, 0.81], [0.8258, 0.8264, 0.8290], list(rng.uniform(0.7, 0.9, 5))]:
        v = np.asarray(values, dtype=np.float64)
        spreads.append({"values": [float(x) for x in v], "mean": f64(v.mean()),
                        "sd": f64(v.std(ddof=1))})
    write("stats.json", {
        "generator": "tools/golden/gen_stats.py",
        "versions": versions(scipy),
        "seed": SEED,
        "tolerance": {"p_value_relative": 1e-9, "statistic_absolute": 1e-9},
        "wilcoxon": cases,
        "spread": spreads,
    })


if __name__ == "__main__":
    main()
