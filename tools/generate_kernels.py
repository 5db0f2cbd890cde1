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
_ARRAY = {"args": "prob", "module": "", "row": "", "at": "prob[{t}, {i}]"}
_TABLE = {
    "args": "table, index",
    "module": "_table",
    "row": "q = index[{t}]",
    "at": "table[q, {i}]",
}


def _at(em, t, K, indent):
    """Lines that load frame ``t``'s likelihood row (none for an array), then its terms."""
    row = [indent + em["row"].format(t=t)] if em["row"] else []
    return row, [em["at"].format(t=t, i=i) for i in range(K)]


def _source(K):
    """Source of ``_forward``, ``_backward`` and ``messages`` for ``K`` states."""
    r = range(K)
    load_a = [f"    A{i}_{j} = transmat[{i}, {j}]" for i in r for j in r]
    fwd = [
        "def _forward(prob, a, b, startprob, transmat, alpha, rescale):",
        *load_a,
        *_lines("    x{i} = startprob[{i}] * prob[a, {i}]", K),
        "    log_norm = 0.0",
        *_normalised("x", K, "    "),
        "    rescale[a] = s",
        *_lines("    alpha[a, {i}] = x{i}", K),
        "    for t in range(a + 1, b):",
        *[f"        y{j} = {_tree([f'x{i} * A{i}_{j}' for i in r])} * prob[t, {j}]" for j in r],
        *_normalised("y", K),
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


def _normalised(name, K, indent="        "):
    """Lines that rescale the message ``{name}0 ..`` by ``s`` when its total falls below LOW.

    They add ``log(total)`` to ``log_norm`` and return NaN when the total falls below FAIL.
    """
    lines = [
        f"total = {_tree([f'{name}{i}' for i in range(K)])}",
        "s = 1.0",
        "if total < LOW:",
        "    if not total > FAIL:",
        "        return np.nan",
        "    s = 1.0 / total",
        "    log_norm += np.log(total)",
        *[f"    {name}{i} *= s" for i in range(K)],
    ]
    return [indent + line for line in lines]


def _forward_block_source(K, em):
    """Source of ``_forward_block``: the forward recursion over one block of a sequence.

    Frames ``t0:t1`` go to rows ``1 .. t1 - t0`` of the block's ``alpha`` and ``rescale``;
    row 0 receives the message the block starts from (the last one of block ``m - 1``, kept in
    ``ckpt[m - 1]``; block 0 starts from ``startprob``). The block's last message goes to
    ``ckpt[m]`` when ``save``. Returns the log of the normalisers applied, NaN when the
    messages underflow.
    """
    r = range(K)
    row0, p0 = _at(em, "t0", K, "        ")
    rowt, pt = _at(em, "t", K, "        ")
    return "\n".join(
        [
            f"def _forward_block({em['args']}, t0, t1, m, startprob, transmat, "
            "alpha, rescale, ckpt, save):",
            *[f"    A{i}_{j} = transmat[{i}, {j}]" for i in r for j in r],
            "    log_norm = 0.0",
            "    first = t0",
            "    if m == 0:",
            *row0,
            *[f"        x{i} = startprob[{i}] * {p0[i]}" for i in r],
            *_normalised("x", K),
            "        rescale[1] = s",
            *_lines("        alpha[1, {i}] = x{i}", K),
            "        first = t0 + 1",
            "    else:",
            *_lines("        x{i} = ckpt[m - 1, {i}]", K),
            *_lines("        alpha[0, {i}] = x{i}", K),
            "    for t in range(first, t1):",
            *rowt,
            *[f"        y{j} = {_tree([f'x{i} * A{i}_{j}' for i in r])} * {pt[j]}" for j in r],
            *_normalised("y", K),
            "        rescale[t - t0 + 1] = s",
            *_lines("        x{i} = y{i}", K),
            *_lines("        alpha[t - t0 + 1, {i}] = y{i}", K),
            "    if save:",
            *_lines("        ckpt[m, {i}] = x{i}", K),
            "    return log_norm",
        ]
    )


def _checkpoints_source(K, em):
    """Source of ``_forward_ckpt`` and ``_backward_ckpt``: one pass, messages per block kept.

    ``_forward_ckpt`` fills ``ckpt`` (the last forward message of each block) and returns the
    sequence's log-likelihood up to its frames' ``log_scale`` (NaN on underflow);
    ``_backward_ckpt`` fills ``bckpt`` (the backward message at the last frame of each block,
    up to a positive factor) and returns False on underflow.
    """
    r = range(K)
    fwd = f"_forward_block({em['args']}, t0, t1, m, startprob, transmat, alpha, "
    row, pt = _at(em, "u + 1", K, "        ")
    forward = [
        f"def _forward_ckpt({em['args']}, a, b, startprob, transmat, alpha, rescale, ckpt):",
        "    n_blocks = (b - a + BLOCK - 1) // BLOCK",
        "    lp = 0.0",
        "    for m in range(n_blocks):",
        "        t0 = a + m * BLOCK",
        "        t1 = min(b, t0 + BLOCK)",
        f"        lp += {fwd}rescale, ckpt, True)",
        "        if np.isnan(lp):",
        "            return np.nan",
        f"    total = {_tree([f'ckpt[n_blocks - 1, {i}]' for i in r])}",
        "    if not total > 0.0:",
        "        return np.nan",
        "    return lp + np.log(total)",
    ]
    backward = [
        f"def _backward_ckpt({em['args']}, a, b, transmat, bckpt):",
        *[f"    A{i}_{j} = transmat[{i}, {j}]" for i in r for j in r],
        *_lines("    c{i} = 1.0", K),
        *_lines("    bckpt[(b - 1 - a) // BLOCK, {i}] = 1.0", K),
        "    for u in range(b - 2, a - 1, -1):",
        *row,
        *[f"        v{i} = {pt[i]} * c{i}" for i in r],
        *[f"        y{i} = {_tree([f'A{i}_{j} * v{j}' for j in r])}" for i in r],
        f"        total = {_tree([f'y{i}' for i in r])}",
        "        if total < LOW:",
        "            if not total > FAIL:",
        "                return False",
        "            sc = 1.0 / total",
        *_lines("            y{i} *= sc", K),
        *_lines("        c{i} = y{i}", K),
        "        if (u - a + 1) % BLOCK == 0:",
        *_lines("            bckpt[(u - a) // BLOCK, {i}] = c{i}", K),
        "    return True",
    ]
    return "\n".join(forward), "\n".join(backward)


def _smooth_range_source(K, em):
    """Source of ``_smooth_range``: the backward recursion fused with the posteriors.

    Walks back through blocks ``m1 - 1`` down to ``m0`` of the sequence at rows ``a:b`` from
    the backward message ``c`` at the last frame of block ``m1 - 1``, recomputing each block's
    forward messages from ``ckpt`` (the same function on the same numbers: the same messages)
    unless ``fresh`` says the buffer holds block ``m1 - 1`` already. The posterior work of a
    frame does not lie on the recursion's chain of dependent products, so it overlaps with it.
    Adds the expected transitions (divided by ``transmat``) to ``acc[:K]``, the posterior
    state counts to ``acc[K]`` and sets ``acc[K + 1]`` to the posteriors of frame ``a`` when
    it is reached; the posteriors of each frame go to ``gamma`` (or, for a table, their
    weighted values are added to the frame's row of ``counts``). Leaves ``c`` at the message
    it stopped at; returns False when the messages underflow.
    """
    r = range(K)
    table = em is _TABLE
    row, p = _at(em, "u", K, "            ")
    fwd = f"_forward_block({em['args']}, t0, t1, m, startprob, transmat, alpha, "
    if table:
        out, store = "counts", _lines("            counts[q, {i}] += ws * g{i}", K)
    else:
        out, store = "gamma", _lines("            gamma[u, {i}] = g{i}", K)
    return "\n".join(
        [
            f"def _smooth_range({em['args']}, a, b, m0, m1, fresh, startprob, "
            f"transmat, alpha, rescale, ckpt, c, acc, {out}, ws):",
            *[f"    A{i}_{j} = transmat[{i}, {j}]" for i in r for j in r],
            *_lines("    c{i} = c[{i}]", K),
            *[f"    M{i}_{j} = acc[{i}, {j}]" for i in r for j in r],
            *_lines(f"    o{{i}} = acc[{K}, {{i}}]", K),
            "    for m in range(m1 - 1, m0 - 1, -1):",
            "        t0 = a + m * BLOCK",
            "        t1 = min(b, t0 + BLOCK)",
            "        if not (fresh and m == m1 - 1):",
            f"            {fwd}rescale, ckpt, False)",
            "        for u in range(t1 - 1, t0 - 1, -1):",
            *row,
            "            k = u - t0 + 1",
            *_lines("            e{i} = alpha[k, {i}]", K),
            f"            z = {_tree([f'e{i} * c{i}' for i in r])}",
            "            if not z > 0.0:",
            "                return False",
            "            inv = 1.0 / z",
            *_lines("            g{i} = e{i} * c{i} * inv", K),
            *store,
            *_lines("            o{i} += g{i}", K),
            "            if u == a:",
            *_lines(f"                acc[{K + 1}, {{i}}] = g{{i}}", K),
            "                break",
            # xi_{u-1}(i, j) = alpha_{u-1}(i) A_ij prob_u(j) beta_u(j) rescale_u / z_u
            *[f"            v{i} = {p[i]} * c{i}" for i in r],
            "            f = rescale[k] * inv",
            *_lines("            p{i} = alpha[k - 1, {i}]", K),
            *_lines("            w{i} = v{i} * f", K),
            *[f"            M{i}_{j} += p{i} * w{j}" for i in r for j in r],
            *[f"            y{i} = {_tree([f'A{i}_{j} * v{j}' for j in r])}" for i in r],
            f"            total = {_tree([f'y{i}' for i in r])}",
            "            if total < LOW:",
            "                if not total > FAIL:",
            "                    return False",
            "                sc = 1.0 / total",
            *_lines("                y{i} *= sc", K),
            *_lines("            c{i} = y{i}", K),
            *_lines("    c[{i}] = c{i}", K),
            *[f"    acc[{i}, {j}] = M{i}_{j}" for i in r for j in r],
            *_lines(f"    acc[{K}, {{i}}] = o{{i}}", K),
            "    return True",
        ]
    )


def _smooth_source(K, em=_ARRAY):
    """Source of ``smooth``, ``checkpoints`` and ``smooth_blocks``.

    ``smooth`` runs whole sequences: the forward pass keeps only the last message of each
    block of ``BLOCK`` frames, then ``_smooth_range`` walks back through the blocks; neither
    ``alpha`` nor ``beta`` is stored. ``smooth`` writes the posteriors to ``gamma``; the table
    module's (likelihoods from the rows of a table) instead adds each frame's weighted
    posteriors to its table row's total, so that no (n, K) array is needed at all, and leaves
    out the sequences marked in ``skip``. The array module's ``smooth`` takes the
    log-likelihoods too and makes each sequence's frames from them just before its forward
    pass (``exp_rows``), unless ``log_frame`` is empty (the frames are given).

    One long sequence splits over two threads: ``checkpoints`` runs its forward (``mode`` 1)
    or backward (``mode`` 2) pass, keeping a message per block, then ``smooth_blocks`` runs
    ``_smooth_range`` over any run of blocks from those messages.
    """
    table = em is _TABLE
    src = em["args"]
    head = f"def smooth({src}, offsets, startprob, transmat, weights"
    if table:
        out, result = "counts", ", counts"
        make_out = [f"    counts = np.zeros((table.shape[0], {K}))"]
        head += ", skip):"
    else:
        out, result, make_out = "gamma", "", []
        # The frames of each sequence are made from its log-likelihoods just before its
        # forward pass (unless ``log_frame`` is empty: ``prob`` given).
        head = (
            "def smooth(log_frame, log_scale, prob, offsets, startprob, transmat, weights, gamma):"
        )
    scratch = [
        f"    alpha = np.empty((BLOCK + 1, {K}))",
        "    rescale = np.empty(BLOCK + 1)",
        f"    c = np.empty({K})",
        f"    acc = np.zeros(({K + 2}, {K}))",
    ]
    smooth = [
        head,
        "    S = offsets.shape[0] - 1",
        "    log_norm = np.zeros(S)",
        "    ok = np.ones(S, dtype=np.bool_)",
        f"    start = np.zeros({K})",
        f"    occupancy = np.zeros({K})",
        f"    trans = np.zeros(({K}, {K}))",
        *make_out,
        *scratch,
        "    longest = 1",
        "    for s in range(S):",
        "        longest = max(longest, offsets[s + 1] - offsets[s])",
        f"    ckpt = np.empty(((longest + BLOCK - 1) // BLOCK, {K}))",
        *(["    convert = log_frame.shape[0] > 0"] * (not table)),
        "    for s in range(S):",
        *(["        if skip[s]:", "            ok[s] = False", "            continue"] * table),
        "        a = offsets[s]",
        "        b = offsets[s + 1]",
        "        ws = weights[s]",
        *(
            [
                "        if convert:",
                "            exp_rows(log_frame, prob, log_scale, a, b)",
            ]
            * (not table)
        ),
        f"        lp = _forward_ckpt({src}, a, b, startprob, transmat, alpha, rescale, ckpt)",
        "        log_norm[s] = lp",
        "        if np.isnan(lp):",
        "            ok[s] = False",
        "            continue",
        "        c[:] = 1.0",
        "        acc[:] = 0.0",
        "        n_blocks = (b - a + BLOCK - 1) // BLOCK",
        f"        if not _smooth_range({src}, a, b, 0, n_blocks, True, startprob, transmat, "
        f"alpha, rescale, ckpt, c, acc, {out}, ws):",
        "            ok[s] = False",
        "            continue",
        f"        occupancy += ws * acc[{K}]",
        f"        trans += ws * acc[:{K}]",
        f"        start += ws * acc[{K + 1}]",
        f"    return log_norm, ok, start, occupancy, trans{result}",
    ]
    checkpoints = [
        f"def checkpoints({src}, a, b, startprob, transmat, ckpt, mode):",
        "    if mode == 2:",
        f"        return 0.0, _backward_ckpt({src}, a, b, transmat, ckpt)",
        f"    alpha = np.empty((BLOCK + 1, {K}))",
        "    rescale = np.empty(BLOCK + 1)",
        f"    lp = _forward_ckpt({src}, a, b, startprob, transmat, alpha, rescale, ckpt)",
        "    return lp, not np.isnan(lp)",
    ]
    blocks = [
        f"def smooth_blocks({src}, a, b, m0, m1, startprob, transmat, ckpt, bckpt, ws"
        + ("):" if table else ", gamma):"),
        *make_out,
        *scratch,
        "    c[:] = bckpt[m1 - 1]",
        f"    good = _smooth_range({src}, a, b, m0, m1, False, startprob, transmat, alpha, "
        f"rescale, ckpt, c, acc, {out}, ws)",
        f"    return good, ws * acc[{K + 1}], ws * acc[{K}], ws * acc[:{K}]{result}",
    ]
    return "\n".join(smooth), "\n".join(checkpoints), "\n".join(blocks)


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
_IMPORT = "from emkit.kernels._jit import njit\n"
_DECORATOR = "@njit(cache=True, nogil=True, fastmath=_FAST)"


def module_source(K, em=_ARRAY):
    """Source of the generated module for ``K`` states (likelihoods as an array or a table).

    Both modules have the fused ``smooth`` for batches of sequences. For one long sequence,
    the array module has the two-phase kernels (``messages``, and ``posteriors`` up to
    ``MAX_POSTERIOR_STATES``), which keep the messages in (n, K) arrays; the table module,
    which keeps no (n, K) array, has ``checkpoints`` and ``smooth_blocks`` instead.
    """
    forward_ckpt, backward_ckpt = _checkpoints_source(K, em)
    smooth, checkpoints, blocks = _smooth_source(K, em)
    functions = [_forward_block_source(K, em), forward_ckpt, _smooth_range_source(K, em), smooth]
    if em is _TABLE:
        functions += [backward_ckpt, checkpoints, blocks]
    else:
        functions = [*_source(K), *functions]
        if K <= MAX_POSTERIOR_STATES:
            functions.append(_posteriors_source(K))
    header = _HEADER.format(K=K, LOW=LOW, FAIL=FAIL, BLOCK=BLOCK, FAST=sorted(_FAST))
    if em is _ARRAY:
        extra = "from emkit.kernels.markov_numba import exp_rows\n"
        header = header.replace(_IMPORT, _IMPORT + extra)
    return header + "".join(f"\n\n{_DECORATOR}\n{f}\n" for f in functions)


def generated_files():
    """``{path: text}`` of every generated module (the package's ``__init__`` excluded).

    Two modules per ``K``, ``markov_k{K}.py`` and ``markov_k{K}_table.py``: a fit imports one
    of them only (Python compiles these long modules on import where no bytecode is cached).
    """
    return {
        TARGET / f"markov_k{K}{em['module']}.py": module_source(K, em)
        for K in range(1, MAX_STATES + 1)
        for em in (_ARRAY, _TABLE)
    }


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
