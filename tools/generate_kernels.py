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
from emkit.kernels.markov_unrolled import MAX_POSTERIOR_STATES, MAX_STATES  # noqa: E402

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


def _source(K):
    """Source of ``_forward``, ``_backward`` and ``messages`` for ``K`` states."""
    r = range(K)
    load_a = [f"    A{i}_{j} = transmat[{i}, {j}]" for i in r for j in r]
    fwd = [
        "def _forward(prob, a, b, startprob, transmat, alpha, rescale):",
        *load_a,
        *_lines("    x{i} = startprob[{i}] * prob[a, {i}]", K),
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
        *[f"        y{j} = {_tree([f'x{i} * A{i}_{j}' for i in r])} * prob[t, {j}]" for j in r],
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
    return "\n".join(fwd), "\n".join(bwd), "\n".join(msg)


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


def _smooth_source(K):
    """Source of ``smooth``: forward, then the backward recursion fused with the posteriors.

    The posterior work of a frame does not lie on the backward recursion's chain of dependent
    products, so it overlaps with it, and ``beta`` is never stored.
    """
    r = range(K)
    return "\n".join(
        [
            "def smooth(prob, offsets, startprob, transmat, weights, alpha, rescale, gamma):",
            "    S = offsets.shape[0] - 1",
            "    log_norm = np.zeros(S)",
            "    ok = np.ones(S, dtype=np.bool_)",
            f"    start = np.zeros({K})",
            f"    occupancy = np.zeros({K})",
            f"    trans = np.zeros(({K}, {K}))",
            *[f"    A{i}_{j} = transmat[{i}, {j}]" for i in r for j in r],
            "    for s in range(S):",
            "        a = offsets[s]",
            "        b = offsets[s + 1]",
            "        lp = _forward(prob, a, b, startprob, transmat, alpha, rescale)",
            "        log_norm[s] = lp",
            "        if np.isnan(lp):",
            "            ok[s] = False",
            "            continue",
            *[f"        M{i}_{j} = 0.0" for i in r for j in r],
            *_lines("        o{i} = 0.0", K),
            *_lines("        c{i} = 1.0", K),
            "        bad = False",
            "        for u in range(b - 1, a - 1, -1):",
            *_lines("            e{i} = alpha[u, {i}]", K),
            f"            z = {_tree([f'e{i} * c{i}' for i in r])}",
            "            if not z > 0.0:",
            "                bad = True",
            "                break",
            "            inv = 1.0 / z",
            *_lines("            g{i} = e{i} * c{i} * inv", K),
            *_lines("            gamma[u, {i}] = g{i}", K),
            *_lines("            o{i} += g{i}", K),
            "            if u == a:",
            "                break",
            # xi_{u-1}(i, j) = alpha_{u-1}(i) A_ij prob_u(j) beta_u(j) rescale_u / z_u
            *_lines("            v{i} = prob[u, {i}] * c{i}", K),
            "            f = rescale[u] * inv",
            *_lines("            p{i} = alpha[u - 1, {i}]", K),
            *_lines("            w{i} = v{i} * f", K),
            *[f"            M{i}_{j} += p{i} * w{j}" for i in r for j in r],
            *[f"            y{i} = {_tree([f'A{i}_{j} * v{j}' for j in r])}" for i in r],
            f"            total = {_tree([f'y{i}' for i in r])}",
            "            if total < LOW:",
            "                if not total > FAIL:",
            "                    bad = True",
            "                    break",
            "                sc = 1.0 / total",
            *_lines("                y{i} *= sc", K),
            *_lines("            c{i} = y{i}", K),
            "        if bad:",
            "            ok[s] = False",
            "            continue",
            "        ws = weights[s]",
            *_lines("        occupancy[{i}] += ws * o{i}", K),
            *[f"        trans[{i}, {j}] += ws * M{i}_{j}" for i in r for j in r],
            *_lines("        start[{i}] += ws * gamma[a, {i}]", K),
            "    return log_norm, ok, start, occupancy, trans",
        ]
    )


_HEADER = """# Generated by tools/generate_kernels.py for K={K}: do not edit, regenerate.
# ruff: noqa
# fmt: off
import numpy as np

from emkit.kernels._jit import njit

LOW = {LOW!r}
FAIL = {FAIL!r}
_FAST = set({FAST!r})
"""
_DECORATOR = "@njit(cache=True, nogil=True, fastmath=_FAST)"


def module_source(K):
    """Source of the generated module for ``K`` states."""
    functions = [*_source(K), _smooth_source(K)]
    if K <= MAX_POSTERIOR_STATES:
        functions.append(_posteriors_source(K))
    header = _HEADER.format(K=K, LOW=LOW, FAIL=FAIL, FAST=sorted(_FAST))
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
