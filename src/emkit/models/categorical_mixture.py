"""CategoricalMixture: latent class analysis of categorical items (poLCA's model)."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from emkit import _validation as v
from emkit.exceptions import ValidationError
from emkit.families.categorical_items import CategoricalItemsFamily, ItemParams
from emkit.models import _categories as cat
from emkit.models._inputs import is_out_of_core, open_array
from emkit.models.mixture_base import (
    BaseMixture,
    check_item_state,
    common_arguments,
)


class CategoricalMixture(BaseMixture):
    """Latent class model: categorical items, independent given the class, by EM.

    Each column of ``X`` is an item with its own categories (numbers, strings or pandas
    categoricals); a missing answer (None/NaN) is left out of its row's likelihood, as poLCA
    does. A memory-mapped or Dask ``X`` holds integer codes ``0 .. M_j - 1`` (NaN missing).

    Parameters
    ----------
    n_components, tol, max_iter, n_init, init_params, weights_init, random_state, \
    warm_start, verbose, verbose_interval, chunk_size, learning_decay, learning_offset
        As in :class:`~emkit.GaussianMixture`.
        Defaults here: ``init_params='random'`` (random starting responsibilities),
        ``tol=1e-6`` and ``max_iter=1000`` (poLCA's), since EM from a random start first
        moves slowly, and a loose tolerance stops it before the classes separate.
    categories : 'auto' or list of array-like, default='auto'
        The categories of each item: learned from ``X`` in ``fit`` ('auto'), or given (one
        array of distinct values per column, e.g. for ``partial_fit`` on blocks that do not
        all show every answer). For a memory-mapped or Dask ``X`` of codes, the labels of
        codes ``0 .. M_j - 1``.
    probabilities_init : list of array-like, default=None
        One array of shape (n_components, n_categories_j) per item (rows summing to one),
        columns in the order of ``categories_``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Class shares.
    categories_ : list of ndarray
        The categories of each item (sorted observed values, or a pandas categorical's).
    probabilities_ : list of ndarray
        ``probabilities_[j][k, m] = P(item j = categories_[j][m] | class k)``.
    converged_, n_iter_, lower_bound_, lower_bounds_, n_features_in_, feature_names_in_
        As in :class:`GaussianMixture`.
    """

    def __init__(
        self,
        n_components=1,
        *,
        tol=1e-6,
        max_iter=1000,
        n_init=1,
        init_params="random",
        categories="auto",
        weights_init=None,
        probabilities_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        chunk_size=None,
        learning_decay=0.6,
        learning_offset=2.0,
    ):
        super().__init__(**common_arguments(locals()))
        self.categories = categories
        self.probabilities_init = probabilities_init

    def _make_family(self):
        return CategoricalItemsFamily([len(c) for c in self.categories_])

    def _check_data(self, X, reset):
        columns, names = cat.columns_of(X)
        if reset:
            self.categories_ = self._given_categories(len(columns)) or [
                cat.learn_categories(c, j) for j, c in enumerate(columns)
            ]
            self.n_features_in_ = len(columns)
            vars(self).pop("feature_names_in_", None)
            if names is not None:
                self.feature_names_in_ = np.asarray(names, dtype=object)
        elif len(columns) != self.n_features_in_:
            raise ValidationError(
                f"X has {len(columns)} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        codes = [
            cat.encode(c, cats, j)
            for j, (c, cats) in enumerate(zip(columns, self.categories_, strict=True))
        ]
        return self._make_family().integer_codes(np.column_stack(codes))

    def _given_categories(self, n_columns):
        """The ``categories`` parameter as a list of arrays, or None for 'auto'."""
        if isinstance(self.categories, str) and self.categories == "auto":
            return None
        if not isinstance(self.categories, (list, tuple)) or len(self.categories) != n_columns:
            raise ValidationError(
                f"categories must be 'auto' or a list of {n_columns} arrays (one per column of X)"
            )
        out = []
        for j, values in enumerate(self.categories):
            arr = np.asarray(values)
            if arr.ndim != 1 or arr.size == 0 or len(set(arr.tolist())) != arr.size:
                raise ValidationError(
                    f"categories[{j}] must be a non-empty list of distinct values"
                )
            out.append(arr)
        return out

    def _source(self, X, sample_weight, *, reset):
        if reset and is_out_of_core(X):
            arr = open_array(X)
            given = self._given_categories(int(arr.shape[1]))
            self.categories_ = given or [np.arange(m) for m in cat.code_ranges(arr)]
        return super()._source(X, sample_weight, reset=reset)

    def _check_inits(self, d):
        if self.probabilities_init is None:
            return self._check_weights_init(), None
        given = list(self.probabilities_init)
        if len(given) != d:
            raise ValidationError(f"probabilities_init must hold one array per item ({d} items)")
        tables = []
        for j, (table, cats) in enumerate(zip(given, self.categories_, strict=True)):
            shape = (self.n_components, len(cats))
            t = v.check_array_param(table, f"probabilities_init[{j}]", shape)
            if np.any(t < 0) or not np.allclose(t.sum(axis=1), 1.0, atol=1e-6):
                raise ValidationError(
                    f"probabilities_init[{j}] must hold probabilities, each row summing to 1"
                )
            tables.append(t)
        return self._check_weights_init(), ItemParams(np.concatenate(tables, axis=1))

    def _set_components(self, c, dtype):
        self.probabilities_ = self._make_family().split(c.probabilities.astype(np.float64))

    def _get_components(self):
        return ItemParams(np.concatenate(self.probabilities_, axis=1).astype(np.float64))

    def _decode_sample(self, X):
        if all(np.asarray(c).dtype.kind in "iuf" for c in self.categories_):
            return np.column_stack(
                [np.asarray(c)[X[:, j].astype(np.intp)] for j, c in enumerate(self.categories_)]
            ).astype(np.float64)
        out = np.empty(X.shape, dtype=object)
        for j, cats in enumerate(self.categories_):
            out[:, j] = np.asarray(cats, dtype=object)[X[:, j].astype(np.intp)]
        return out

    def _check_component_state(self, K, d):
        check_item_state(vars(self), K, d)

    def item_probabilities(self):
        """Class-conditional category probabilities of each item, labelled by category.

        Returns
        -------
        dict
            Item name (a column name, or ``"item j"``) to a ``pandas.DataFrame`` with one row
            per class and one column per category value (a dict of category value to the
            (n_components,) probabilities when pandas is not installed).
        """
        check_is_fitted(self, "probabilities_")
        names = getattr(self, "feature_names_in_", None)
        out = {}
        for j, (cats, table) in enumerate(zip(self.categories_, self.probabilities_, strict=True)):
            label = str(names[j]) if names is not None else f"item {j}"
            out[label] = _table(cats, table)
        return out


def _table(cats, table):
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas comes with the dev extras
        return {c: table[:, m] for m, c in enumerate(cats)}
    index = [f"class {k}" for k in range(table.shape[0])]
    return pd.DataFrame(table, index=index, columns=list(cats))
