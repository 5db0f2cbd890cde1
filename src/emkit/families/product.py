"""The product family: disjoint groups of columns, each modelled by its own family.

A mixed-type component (Gaussian on the continuous columns, categorical items on the answers,
Poisson on the counts, ...) is the product of its parts' densities: the columns of different
parts are independent given the component. Log-likelihoods add, statistics are the tuple of
the parts' statistics, and each part maximises its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from emkit.families.base import FamilyBase, Stats


@dataclass(frozen=True)
class ProductParams:
    """The parameters of each part, in the order of the parts."""

    parts: tuple


@dataclass
class ProductStats(Stats):
    """Additive statistics: ``counts`` (K,) and the statistics of each part."""

    counts: np.ndarray
    parts: tuple


class ProductFamily(FamilyBase):
    """Components whose column groups are independent, each group with its own family.

    Parameters
    ----------
    parts : sequence of (family, columns)
        A family and the column indices (into ``X``) it models; the groups are disjoint.
    """

    def __init__(self, parts):
        self.families = tuple(family for family, _ in parts)
        self.columns = tuple(np.asarray(cols, dtype=np.intp) for _, cols in parts)
        names = []
        for family in self.families:
            names.extend(n for n in family.param_names if n not in names)
        self.param_names = tuple(names)

    def _zip(self, *per_part):
        return zip(self.families, self.columns, *per_part, strict=True)

    def check_data(self, X, name="X"):
        """Each part's check on its columns; returns the float64 matrix the parts read.

        Every part reads its columns in this float form (a categorical part: NaN for a
        missing answer), so a part's own converted array is not written back.
        """
        out = np.array(X, dtype=np.float64)
        for family, cols in self._zip():
            try:
                family.check_data(out[:, cols], name=name)
            except ValueError as err:
                raise type(err)(_in_columns_of_x(str(err), cols)) from None
        return out

    def log_likelihood(self, params, X):
        """Sum of the parts' log-likelihoods on their columns, shape (n, K)."""
        total = None
        for family, cols, p in self._zip(params.parts):
            ll = family.log_likelihood(p, X[:, cols])
            total = ll if total is None else total + ll
        return total

    def accumulate(self, params, X, wresp):
        """Each part's statistics of its columns under ``wresp`` (n, K)."""
        given = params.parts if params is not None else (None,) * len(self.families)
        parts = tuple(f.accumulate(p, X[:, c], wresp) for f, c, p in self._zip(given))
        return ProductStats(wresp.sum(axis=0), parts)

    def maximize(self, stats, params, fixed=frozenset(), empty=()):
        """Each part's M-step on its own statistics."""
        given = params.parts if params is not None else (None,) * len(self.families)
        return ProductParams(
            tuple(f.maximize(s, p, fixed, empty) for f, _, s, p in self._zip(stats.parts, given))
        )

    def initial_params(self, weighted_blocks, n_components):
        """Each part initialised from the same assignment on its columns."""
        params, stats = [], []
        for family, cols in self._zip():

            def projected(cols=cols):
                return ((X[:, cols], r) for X, r in weighted_blocks())

            p, s = family.initial_params(projected, n_components)
            params.append(p)
            stats.append(s)
        return ProductParams(tuple(params)), ProductStats(stats[0].counts, tuple(stats))

    def reseed(self, params, k, row, stats):
        """Every part's component ``k`` moved onto its columns of ``row``."""
        row = np.asarray(row)
        return ProductParams(
            tuple(f.reseed(p, k, row[c], s) for f, c, p, s in self._zip(params.parts, stats.parts))
        )

    def recentre(self, stats, like):
        """Each part's statistics in the frame of the same part of ``like``."""
        parts = tuple(f.recentre(s, o) for f, _, s, o in self._zip(stats.parts, like.parts))
        return ProductStats(stats.counts, parts)

    def n_parameters(self, n_components, n_features=None):
        """Sum of the parts' free parameters."""
        return int(sum(f.n_parameters(n_components, len(c)) for f, c in self._zip()))

    def sample(self, params, k, n, rng):
        """``n`` rows from component ``k``: each part draws its columns."""
        d = sum(len(c) for c in self.columns)
        out = np.empty((n, d))
        for family, cols, p in self._zip(params.parts):
            out[:, cols] = family.sample(p, k, n, rng)
        return out

    def init_gaps(self, X):
        """The parts' gaps in their columns (None when no part has one)."""
        found = [(cols, f.init_gaps(X[:, cols])) for f, cols in self._zip()]
        if all(g is None for _, g in found):
            return None
        gaps = np.zeros(X.shape, dtype=bool)
        for cols, g in found:
            if g is not None:
                gaps[:, cols] = g
        return gaps

    def impute(self, params, X, resp, rng=None):
        """Each part fills the gaps of its columns under the same posterior ``resp``."""
        out = np.array(X, dtype=np.float64)
        for family, cols, p in self._zip(params.parts):
            out[:, cols] = family.impute(p, X[:, cols], resp, rng)
        return out

    def init_features(self, X):
        """The parts' features side by side, each column standardised."""
        blocks = [f.init_features(X[:, c]) for f, c in self._zip()]
        F = np.concatenate(blocks, axis=1)
        scale = F.std(axis=0)
        return (F - F.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def _in_columns_of_x(message, cols):
    """``message`` with "column j" (of a part) rewritten as the column of ``X``."""
    return re.sub(
        r"(at row \d+, column )(\d+)",
        lambda m: f"{m.group(1)}{int(cols[int(m.group(2))])}",
        message,
    )
