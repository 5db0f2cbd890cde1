"""Regenerate the unrolled HMM kernels committed under ``src/emkit/kernels/unrolled``.

The forward-backward recursions for a fixed, small number of states ``K`` are written out with
``K`` known, so that the state vectors live in registers (see
:mod:`emkit.kernels.markov_unrolled`). This script writes one module per ``K``; emkit imports
them like any other module and never generates code at run time. ``tests/test_kernels_install.py``
regenerates them in memory and checks that the committed files are up to date.

Usage: ``python tools/generate_kernels.py`` (write the files) or ``--check`` (exit 1 when a
committed file differs from what this script generates).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emkit.kernels.markov_numba import _FAST, FAIL, LOW  # noqa: E402
from emkit.kernels.markov_unrolled import BLOCK, MAX_POSTERIOR_STATES, MAX_STATES  # noqa: E402

#: Folder of the generated modules.
TARGET = ROOT / "src" / "emkit" / "kernels" / "unrolled"


def _tree(terms):
    """A balanced sum expression of ``terms`` (strings)."""
    if len(terms) == 1:
        return terms[0]
    half = len(terms) // 2
    return f"({_tree(terms[:half])} + {_tree(terms[half:])})"


def _lines(template, K):
    return [template.format(i=i) for i in range(K)]


#: How a kernel reads the likelihood of state ``{i}`` at frame ``t``: from a (n, K) array, or
#: from row ``q = index[t]`` of a (M, K) table (emissions with few distinct likelihood rows).
_ARRAY = {"args": "prob", "suffix": "", "row": "", "at": "prob[{t}, {i}]"}
_TABLE = {
    "args": "table, index",
    "suffix": "_table",
    "row": "q = index[{t}]",
    "at": "table[q, {i}]",
}


def _at(em, t, K, indent):
    """Lines that load frame ``t``'s likelihood row (none for an array), then its terms."""
    row = [indent + em["row"].format(t=t)] if em["row"] else []
    return row, [em["at"].format(t=t, i=i) for i in range(K)]


def _forward_source(K, em=_ARRAY):
    """Source of ``_forward``: the scaled forward recursion over a whole sequence."""
    r = range(K)
    load_a = [f"    A{i}_{j} = transmat[{i}, {j}]" for i in r for j in r]
    row0, p0 = _at(em, "a", K, "    ")
    rowt, pt = _at(em, "t", K, "        ")
    fwd = [
        f"def _forward{em['suffix']}({em['args']}, a, b, startprob, transmat, alpha, rescale):",
        *load_a,
        *row0,
        *[f"    x{i} = startprob[{i}] * {p0[i]}" for i in r],
        f"    total = {_tree([f'x{i}' for i in r])}",
        "    log_norm = 0.0",
        "    s = 1.0",
        "    if total < LOW:",
        "        if not total > FAIL:",
        "            return np.nan",
        "        s = 1.0 / total",
        "        log_norm += np.log(total)",
        *_lines("        x{i} *= s", K),
        "    rescale[a] = s",
        *_lines("    alpha[a, {i}] = x{i}", K),
        "    for t in range(a + 1, b):",
        *rowt,
        *[f"        y{j} = {_tree([f'x{i} * A{i}_{j}' for i in r])} * {pt[j]}" for j in r],
        f"        total = {_tree([f'y{j}' for j in r])}",
        "        s = 1.0",
        "        if total < LOW:",
        "            if not total > FAIL:",
        "                return np.nan",
        "            s = 1.0 / total",
        "            log_norm += np.log(total)",
        *_lines("            y{i} *= s", K),
        "        rescale[t] = s",
        *_lines("        x{i} = y{i}", K),
        *_lines("        alpha[t, {i}] = y{i}", K),
        f"    total = {_tree([f'x{i}' for i in r])}",
        "    if not total > 0.0:",
        "        return np.nan",
        "    return log_norm + np.log(total)",
    ]
    return "\n".join(fwd)


def _source(K):
    """Source of ``_forward``, ``_backward`` and ``messages`` for ``K`` states."""
    r = range(K)
    load_a = [f"    A{i}_{j} = transmat[{i}, {j}]" for i in r for j in r]
    bwd = [
        "def _backward(prob, a, b, transmat, beta):",
        *load_a,
        *_lines("    c{i} = 1.0", K),
        *_lines("    beta[b - 1, {i}] = 1.0", K),
        "    for u in range(b - 2, a - 1, -1):",
        *_lines("        v{i} = prob[u + 1, {i}] * c{i}", K),
        *[f"        y{i} = {_tree([f'A{i}_{j} * v{j}' for j in r])}" for i in r],
        f"        total = {_tree([f'y{i}' for i in r])}",
        "        if total < LOW:",
        "            if not total > FAIL:",
        "                return False",
        "            s = 1.0 / total",
        *_lines("            y{i} *= s", K),
        *_lines("        c{i} = y{i}", K),
        *_lines("        beta[u, {i}] = y{i}", K),
        "    return True",
    ]
    msg = [
        "def messages(prob, offsets, startprob, transmat, alpha, beta, rescale, mode):",
        "    S = offsets.shape[0] - 1",
        "    log_norm = np.zeros(S)",
        "    ok = np.ones(S, dtype=np.bool_)",
        "    for s in range(S):",
        "        a = offsets[s]",
        "        b = offsets[s + 1]",
        "        if mode != 2:",
        "            lp = _forward(prob, a, b, startprob, transmat, alpha, rescale)",
        "            log_norm[s] = lp",
        "            if np.isnan(lp):",
        "                ok[s] = False",
        "        if mode != 1 and not _backward(prob, a, b, transmat, beta):",
        "            ok[s] = False",
        "    return log_norm, ok",
    ]
    return _forward_source(K), "\n".join(bwd), "\n".join(msg)


def _posteriors_source(K):
    r = range(K)
    pairs = [(i, j) for i in r for j in r]
    lines = [
        "def posteriors(prob, offsets, r0, r1, weights, skip, alpha, beta, rescale, gamma):",
        "    S = offsets.shape[0] - 1",
        f"    start = np.zeros({K})",
        f"    occupancy = np.zeros({K})",
        f"    trans = np.zeros(({K}, {K}))",
        "    failed = np.zeros(S, dtype=np.bool_)",
        "    s = np.searchsorted(offsets, r0, side='right') - 1",
        "    while s < S and offsets[s] < r1:",
        "        a = offsets[s]",
        "        b = offsets[s + 1]",
        "        lo = max(a, r0)",
        "        hi = min(b, r1)",
        "        if skip[s]:",
        "            s += 1",
        "            continue",
        *[f"        M{i}_{j} = 0.0" for i, j in pairs],
        *_lines("        o{i} = 0.0", K),
        *_lines("        p{i} = alpha[max(lo - 1, 0), {i}]", K),
        "        bad = False",
        "        for t in range(lo, hi):",
        *_lines("            e{i} = alpha[t, {i}]", K),
        *_lines("            h{i} = beta[t, {i}]", K),
        f"            z = {_tree([f'e{i} * h{i}' for i in r])}",
        "            if not z > 0.0:",
        "                bad = True",
        "                break",
        "            inv = 1.0 / z",
        *_lines("            g{i} = e{i} * h{i} * inv", K),
        *_lines("            gamma[t, {i}] = g{i}", K),
        *_lines("            o{i} += g{i}", K),
        "            if t > a:",
        "                f = rescale[t] * inv",
        *_lines("                w{i} = prob[t, {i}] * h{i} * f", K),
        *[f"                M{i}_{j} += p{i} * w{j}" for i, j in pairs],
        *_lines("            p{i} = e{i}", K),
        "        if bad:",
        "            failed[s] = True",
        "            s += 1",
        "            continue",
        "        ws = weights[s]",
        *_lines("        occupancy[{i}] += ws * o{i}", K),
        *[f"        trans[{i}, {j}] += ws * M{i}_{j}" for i, j in pairs],
        "        if lo == a:",
        *_lines("            start[{i}] += ws * gamma[a, {i}]", K),
        "        s += 1",
        "    return start, occupancy, trans, failed",
    ]
    return "\n".join(lines)


def _forward_block_source(K, em):
    """Source of ``_forward_block``: the forward recursion over one block of a sequence.

    Frames ``t0:t1`` go to rows ``1 .. t1 - t0`` of the block's ``alpha`` and ``rescale``;
    row 0 receives the message the block starts from (the last one of block ``m - 1``, kept in
    ``ckpt[m - 1]``; block 0 starts from ``startprob``). The block's last message goes to
    ``ckpt[m]``. Returns the log of the normalisers applied, NaN when the messages underflow.
    """
    r = range(K)
    row0, p0 = _at(em, "t0", K, "        ")
    rowt, pt = _at(em, "t", K, "        ")
    return "\n".join(
        [
            f"def _forward_block{em['suffix']}({em['args']}, t0, t1, m, startprob, transmat, "
            "alpha, rescale, ckpt):",
            *[f"    A{i}_{j} = transmat[{i}, {j}]" for i in r for j in r],
            "    log_norm = 0.0",
            "    first = t0",
            "    if m == 0:",
            *row0,
            *[f"        x{i} = startprob[{i}] * {p0[i]}" for i in r],
            f"        total = {_tree([f'x{i}' for i in r])}",
            "        s = 1.0",
            "        if total < LOW:",
            "            if not total > FAIL:",
            "                return np.nan",
            "            s = 1.0 / total",
            "            log_norm += np.log(total)",
            *_lines("            x{i} *= s", K),
            "        rescale[1] = s",
            *_lines("        alpha[1, {i}] = x{i}", K),
            "        first = t0 + 1",
            "    else:",
            *_lines("        x{i} = ckpt[m - 1, {i}]", K),
            *_lines("        alpha[0, {i}] = x{i}", K),
            "    for t in range(first, t1):",
            *rowt,
            *[f"        y{j} = {_tree([f'x{i} * A{i}_{j}' for i in r])} * {pt[j]}" for j in r],
            f"        total = {_tree([f'y{j}' for j in r])}",
            "        s = 1.0",
            "        if total < LOW:",
            "            if not total > FAIL:",
            "                return np.nan",
            "            s = 1.0 / total",
            "            log_norm += np.log(total)",
            *_lines("            y{i} *= s", K),
            "        rescale[t - t0 + 1] = s",
            *_lines("        x{i} = y{i}", K),
            *_lines("        alpha[t - t0 + 1, {i}] = y{i}", K),
            *_lines("    ckpt[m, {i}] = x{i}", K),
            "    return log_norm",
        ]
    )


def _smooth_source(K, em=_ARRAY):
    """Source of ``smooth``: forward, then the backward recursion fused with the posteriors.

    The posterior work of a frame does not lie on the backward recursion's chain of dependent
    products, so it overlaps with it, and ``beta`` is never stored. Nor is ``alpha``: the
    forward pass keeps only the last message of each block of ``BLOCK`` frames, and the
    backward pass recomputes a block's messages from the previous block's (the same function
    on the same numbers: the same messages) into a small buffer before it walks back through
    the block. ``smooth`` writes the posteriors to ``gamma``; ``smooth_table`` (likelihoods
    from the rows of a table) instead adds each frame's weighted posteriors to its table row's
    total, so that no (n, K) array is needed at all, and leaves out the sequences marked in
    ``skip``.
    """
    r = range(K)
    table = em is _TABLE
    row, p = _at(em, "u", K, "                ")
    args = "offsets, startprob, transmat, weights" + (", skip" if table else ", gamma")
    fwd = f"_forward_block{em['suffix']}({em['args']}, t0, t1, m, startprob, transmat, alpha, "
    fwd += "rescale, ckpt)"
    if table:
        store = _lines("                counts[q, {i}] += ws * g{i}", K)
        result = ", counts"
    else:
        store, result = _lines("                gamma[u, {i}] = g{i}", K), ""
    return "\n".join(
        [
            f"def smooth{em['suffix']}({em['args']}, {args}):",
            "    S = offsets.shape[0] - 1",
            "    log_norm = np.zeros(S)",
            "    ok = np.ones(S, dtype=np.bool_)",
            f"    start = np.zeros({K})",
            f"    occupancy = np.zeros({K})",
            f"    trans = np.zeros(({K}, {K}))",
            *([f"    counts = np.zeros((table.shape[0], {K}))"] if table else []),
            f"    alpha = np.empty((BLOCK + 1, {K}))",
            "    rescale = np.empty(BLOCK + 1)",
            "    longest = 1",
            "    for s in range(S):",
            "        longest = max(longest, offsets[s + 1] - offsets[s])",
            f"    ckpt = np.empty(((longest + BLOCK - 1) // BLOCK, {K}))",
            *[f"    A{i}_{j} = transmat[{i}, {j}]" for i in r for j in r],
            "    for s in range(S):",
            *(["        if skip[s]:", "            ok[s] = False", "            continue"] * table),
            "        a = offsets[s]",
            "        b = offsets[s + 1]",
            "        ws = weights[s]",
            "        n_blocks = (b - a + BLOCK - 1) // BLOCK",
            "        lp = 0.0",
            "        for m in range(n_blocks):",
            "            t0 = a + m * BLOCK",
            "            t1 = min(b, t0 + BLOCK)",
            f"            lp += {fwd}",
            "            if np.isnan(lp):",
            "                break",
            f"        total = {_tree([f'ckpt[n_blocks - 1, {i}]' for i in r])}",
            "        if np.isnan(lp) or not total > 0.0:",
            "            log_norm[s] = np.nan",
            "            ok[s] = False",
            "            continue",
            "        log_norm[s] = lp + np.log(total)",
            *[f"        M{i}_{j} = 0.0" for i in r for j in r],
            *_lines("        o{i} = 0.0", K),
            *_lines("        c{i} = 1.0", K),
            "        bad = False",
            "        for m in range(n_blocks - 1, -1, -1):",
            "            t0 = a + m * BLOCK",
            "            t1 = min(b, t0 + BLOCK)",
            "            if m < n_blocks - 1:",
            f"                {fwd}",
            "            for u in range(t1 - 1, t0 - 1, -1):",
            *row,
            "                k = u - t0 + 1",
            *_lines("                e{i} = alpha[k, {i}]", K),
            f"                z = {_tree([f'e{i} * c{i}' for i in r])}",
            "                if not z > 0.0:",
            "                    bad = True",
            "                    break",
            "                inv = 1.0 / z",
            *_lines("                g{i} = e{i} * c{i} * inv", K),
            *store,
            *_lines("                o{i} += g{i}", K),
            "                if u == a:",
            "                    break",
            # xi_{u-1}(i, j) = alpha_{u-1}(i) A_ij prob_u(j) beta_u(j) rescale_u / z_u
            *[f"                v{i} = {p[i]} * c{i}" for i in r],
            "                f = rescale[k] * inv",
            *_lines("                p{i} = alpha[k - 1, {i}]", K),
            *_lines("                w{i} = v{i} * f", K),
            *[f"                M{i}_{j} += p{i} * w{j}" for i in r for j in r],
            *[f"                y{i} = {_tree([f'A{i}_{j} * v{j}' for j in r])}" for i in r],
            f"                total = {_tree([f'y{i}' for i in r])}",
            "                if total < LOW:",
            "                    if not total > FAIL:",
            "                        bad = True",
            "                        break",
            "                    sc = 1.0 / total",
            *_lines("                    y{i} *= sc", K),
            *_lines("                c{i} = y{i}", K),
            "            if bad:",
            "                break",
            "        if bad:",
            "            ok[s] = False",
            "            continue",
            *_lines("        occupancy[{i}] += ws * o{i}", K),
            *[f"        trans[{i}, {j}] += ws * M{i}_{j}" for i in r for j in r],
            *_lines("        start[{i}] += ws * g{i}", K),
            f"    return log_norm, ok, start, occupancy, trans{result}",
        ]
    )


_HEADER = """# Generated by tools/generate_kernels.py for K={K}: do not edit, regenerate.
# ruff: noqa
# fmt: off
import numpy as np

from emkit.kernels._jit import njit

LOW = {LOW!r}
FAIL = {FAIL!r}
BLOCK = {BLOCK!r}
_FAST = set({FAST!r})
"""
_DECORATOR = "@njit(cache=True, nogil=True, fastmath=_FAST)"


def module_source(K):
    """Source of the generated module for ``K`` states."""
    functions = [*_source(K), _forward_block_source(K, _ARRAY), _smooth_source(K)]
    functions += [_forward_block_source(K, _TABLE), _smooth_source(K, _TABLE)]
    if K <= MAX_POSTERIOR_STATES:
        functions.append(_posteriors_source(K))
    header = _HEADER.format(K=K, LOW=LOW, FAIL=FAIL, BLOCK=BLOCK, FAST=sorted(_FAST))
    return header + "".join(f"\n\n{_DECORATOR}\n{f}\n" for f in functions)


def generated_files():
    """``{path: text}`` of every generated module (the package's ``__init__`` excluded)."""
    return {TARGET / f"markov_k{K}.py": module_source(K) for K in range(1, MAX_STATES + 1)}


def main(argv=None):
    """Write the generated modules, or with ``--check`` report the stale ones."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated_files().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text)
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
