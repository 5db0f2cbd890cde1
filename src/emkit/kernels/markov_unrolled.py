"""Forward-backward kernels unrolled for a fixed, small number of states.

The message recursions are chains of dependent small matrix-vector products: with ``K`` known
at compile time the state vectors live in registers and each product is a balanced tree of
multiply-adds, which about halves the time per frame of the generic loops of
:mod:`emkit.kernels.markov_numba` for ``K <= 8``; the posterior pass keeps its accumulators in
registers the same way, which pays up to ``K = 4``. ``smooth`` fuses the two phases for whole
sequences: the backward recursion computes the posteriors as it goes (that work overlaps with
its dependent chain) and never stores ``beta``.

The source for a given ``K`` is generated into a module file in a cache directory (next to this
module when writable, else under the temporary directory) and imported, so numba compiles it
once (one to three seconds) and later processes load it from numba's cache. Same signatures and
results (to rounding) as :func:`emkit.kernels.markov_numba.messages` and
:func:`emkit.kernels.markov_numba.posteriors`.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import tempfile

from emkit.kernels.markov_numba import _FAST, FAIL, LOW

MAX_STATES = 8
# The posterior pass keeps K^2 accumulators in registers: a gain up to 4 states only.
MAX_POSTERIOR_STATES = 4


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


_HEADER = """# Generated by emkit.kernels.markov_unrolled for K={K}: do not edit.
import numpy as np
from numba import njit

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


def _cache_dirs():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return [here, os.path.join(tempfile.gettempdir(), f"emkit-kernels-{uid}")]


def _write(path, text):
    """Write ``text`` to ``path`` unless it already holds it (keeps numba's cache valid)."""
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except OSError:
        pass
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


@functools.cache
def kernels(K):
    """The generated module for ``K`` states: ``messages``, ``smooth`` (``posteriors``: K <= 4)."""
    if not 1 <= K <= MAX_STATES:
        raise ValueError(f"unrolled kernels exist for 1 to {MAX_STATES} states, not {K}")
    text = module_source(K)
    name = f"emkit_markov_unrolled_k{K}"
    for folder in _cache_dirs():
        path = os.path.join(folder, f"{name}.py")
        try:
            os.makedirs(folder, exist_ok=True)
            _write(path, text)
        except OSError:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        # Registered like any module: numba's cache re-imports it by name when loading.
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    raise OSError("no writable directory for the generated HMM kernels")


def messages(K):
    """The message kernel for ``K`` states, ``1 <= K <= 8``."""
    return kernels(K).messages


def smooth(K):
    """The fused forward-backward kernel for ``K`` states, ``1 <= K <= 8``.

    ``smooth(prob, offsets, startprob, transmat, weights, alpha, rescale, gamma)`` runs each
    sequence's forward recursion into ``alpha`` and ``rescale``, then its backward recursion
    fused with the posteriors (``beta`` is never stored), and returns ``(log_norm, ok, start,
    occupancy, trans)``: what :func:`messages` then :func:`posteriors` give for all the rows,
    a sequence failing in either reported in ``ok`` and left out of the statistics.
    """
    return kernels(K).smooth


def posteriors(K):
    """The posterior kernel for ``K`` states, ``1 <= K <= 4``."""
    if K > MAX_POSTERIOR_STATES:
        raise ValueError(f"the unrolled posterior kernel exists for 1 to 4 states, not {K}")
    return kernels(K).posteriors
