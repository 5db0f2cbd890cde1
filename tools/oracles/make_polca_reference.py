"""Maximum-likelihood latent class fits of poLCA's documented examples, by StepMix.

Writes ``tests/oracles/polca_reference.json``: for each example (data set, items, number of
classes, how missing answers are treated) the maximum log-likelihood found by StepMix over many
random restarts, polished by further EM iterations until neither the log-likelihood nor any
parameter moves, with the class shares and item probabilities, and the log-likelihood that
poLCA's own documentation prints for the same model where it prints one.

The data sets are poLCA's (GPL); they are read from the shared research-data folder and are not
part of this repository::

    python tools/oracles/make_polca_reference.py [/path/to/research-data]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from oracles.stepmix_oracle import stepmix_lca  # noqa: E402

TRAITS = [
    "MORALG", "CARESG", "KNOWG", "LEADG", "DISHONG", "INTELG",
    "MORALB", "CARESB", "KNOWB", "LEADB", "DISHONB", "INTELB",
]  # fmt: skip

POLCA = "poLCA 1.6.0.2 (cran/poLCA), man/{}.Rd, \\examples"
# (name, file, items, classes, missing answers, log-likelihood printed by poLCA, where)
CASES = [
    ("carcinoma_2", "polca_carcinoma.csv", list("ABCDEFG"), 2, "none", -317.2568, "carcinoma"),
    ("carcinoma_3", "polca_carcinoma.csv", list("ABCDEFG"), 3, "none", -293.705, "carcinoma"),
    ("values_2", "polca_values.csv", list("ABCD"), 2, "none", -504.4677, "values"),
    (
        "gss82_3",
        "polca_gss82_codes.csv",
        ["PURPOSE", "ACCURACY", "UNDERSTA", "COOPERAT"],
        3,
        "none",
        -2754.545,
        "gss82",
    ),
    (
        "cheating_2",
        "polca_cheating.csv",
        ["LIEEXAM", "LIEPAPER", "FRAUD", "COPYEXAM"],
        2,
        "none",
        -440.0271,
        "cheating",
    ),
    # poLCA's default na.rm=TRUE drops every row with a missing answer (1311 rows remain).
    (
        "election_3_listwise",
        "polca_election_codes.csv",
        TRAITS,
        3,
        "listwise",
        -16714.66,
        "election",
    ),
    # na.rm=FALSE keeps all 1785 rows, a missing answer left out of the row's likelihood;
    # poLCA's documentation prints no value for it.
    ("election_3_missing", "polca_election_codes.csv", TRAITS, 3, "kept", None, None),
]


def load(folder, file, items, missing):
    """Items of a poLCA data set as floats (codes 1..M, NaN missing), rows per ``missing``."""
    with open(folder / file) as fh:
        header = [h.strip('"') for h in fh.readline().strip().split(",")]
    raw = np.genfromtxt(folder / file, delimiter=",", skip_header=1, missing_values="NA")
    X = raw[:, [header.index(c) for c in items]]
    if missing == "listwise":
        X = X[~np.isnan(X).any(axis=1)]
    elif missing == "none" and np.isnan(X).any():
        raise ValueError(f"{file}: unexpected missing answers")
    return X


def restarts(codes, K, n_init, seed):
    """StepMix's own multi-start fit; the log-likelihood reached by each start."""
    from stepmix.stepmix import StepMix

    measurement = "categorical_nan" if np.isnan(codes).any() else "categorical"
    model = StepMix(
        n_components=K,
        measurement=measurement,
        n_init=n_init,
        max_iter=5000,
        abs_tol=1e-10,
        random_state=seed,
        progress_bar=0,
        verbose=0,
    )
    model.fit(codes)
    params = model.get_parameters()
    pis = params["measurement"]["pis"]
    L = params["measurement"]["max_n_outcomes"]
    sizes = [int(np.nanmax(codes[:, j])) + 1 for j in range(codes.shape[1])]
    probs = [pis[:, j * L : j * L + m].copy() for j, m in enumerate(sizes)]
    each = np.array(model.lower_bound_buffer_) * len(codes)
    return params["weights"].copy(), probs, each


def polish(codes, weights, probs, max_rounds=400):
    """EM from the best start until neither the log-likelihood nor the parameters move."""
    ll = -np.inf
    for _ in range(max_rounds):
        new_ll, new_w, new_p = stepmix_lca(codes, weights, probs, 500)
        change = max(
            np.abs(new_w - weights).max(),
            *(np.abs(a - b).max() for a, b in zip(new_p, probs, strict=True)),
        )
        weights, probs = new_w, new_p
        if abs(new_ll - ll) < 1e-11 and change < 1e-11:
            break
        ll = new_ll
    else:
        raise RuntimeError("EM did not settle")
    final_ll, _, _ = stepmix_lca(codes, weights, probs, 0)
    return final_ll, weights, probs


def main(folder):
    """Fit every case and write the JSON file."""
    import stepmix

    out = {
        "_about": (
            "Maximum-likelihood latent class fits of poLCA's documented examples. loglik is the "
            "total log-likelihood at the stored parameters; categories are the observed codes "
            "of each item (poLCA's 1..M); probabilities[j][k][m] = P(item j = categories[j][m] "
            "| class k). Found by StepMix (many random restarts, then EM until nothing moves) by "
            "tools/oracles/make_polca_reference.py; polca_loglik is the value poLCA's "
            "documentation prints for the same model (rounded as printed), null where it "
            "prints none."
        ),
        "stepmix_version": stepmix.__version__,
    }
    for name, file, items, K, missing, documented, rd in CASES:
        t0 = time.perf_counter()
        X = load(folder, file, items, missing)
        categories = [np.unique(X[~np.isnan(X[:, j]), j]) for j in range(X.shape[1])]
        for j, c in enumerate(categories):
            if not np.array_equal(c, np.arange(1, len(c) + 1)):
                raise ValueError(f"{name}: item {items[j]} codes are not 1..M")
        codes = X - 1.0
        n_init = 50 if len(X) > 1000 else 200
        w, p, each = restarts(codes, K, n_init, seed=12345)
        ll, w, p = polish(codes, w, p)
        order = np.argsort(-w, kind="stable")
        hits = int(np.sum(each > ll - 1e-3))
        distinct = sorted({round(float(v), 3) for v in each}, reverse=True)
        out[name] = {
            "data": file,
            "items": items,
            "n_components": K,
            "missing": missing,
            "n_rows": len(X),
            "n_missing_answers": int(np.isnan(X).sum()),
            "categories": [c.astype(int).tolist() for c in categories],
            "loglik": ll,
            "weights": w[order].tolist(),
            "probabilities": [pj[order].tolist() for pj in p],
            "polca_loglik": documented,
            "polca_source": None if rd is None else POLCA.format(rd),
            "stepmix_restarts": n_init,
            "restarts_within_1e-3_of_max": hits,
            "best_local_maxima": distinct[:4],
        }
        print(
            f"{name}: n={len(X)} loglik={ll:.6f} documented={documented} "
            f"hits={hits}/{n_init} maxima={distinct[:4]} ({time.perf_counter() - t0:.1f}s)",
            flush=True,
        )
    path = ROOT / "tests" / "oracles" / "polca_reference.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/research-data"))
