"""MixedMixture: mixtures of mixed-type rows (continuous, categorical, count, binary columns)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from emkit import _validation as v
from emkit.exceptions import ValidationError
from emkit.families.bernoulli import BernoulliFamily, BernoulliParams
from emkit.families.categorical_items import CategoricalItemsFamily, ItemParams
from emkit.families.covariance import COVARIANCE_TYPES
from emkit.families.gaussian import GaussianFamily, GaussianParams
from emkit.families.poisson import PoissonFamily, PoissonParams
from emkit.families.product import ProductFamily, ProductParams
from emkit.models import _categories as cat
from emkit.models._inputs import is_out_of_core, open_array
from emkit.models.mixture_base import (
    BaseMixture,
    check_item_state,
    check_state_array,
    common_arguments,
)


@dataclass(frozen=True)
class _Part:
    """How one family of a column group maps to the estimator.

    ``family(model)`` builds it; ``put(model, family, params)`` sets the fitted attributes from
    its parameters and ``get(model)`` rebuilds them; ``check(model, K, n_columns)`` validates
    those attributes (a model file).
    """

    family: Callable
    put: Callable
    get: Callable
    check: Callable


def _put_gaussian(model, family, params):
    model.means_, model.covariances_ = params.means, params.covariances


def _get_gaussian(model):
    # Factorises the covariances: one that is not positive definite raises.
    return GaussianParams.from_covariances(model.means_, model.covariances_, model.covariance_type)


def _check_gaussian(model, K, g):
    state = vars(model)
    check_state_array(state, "means_", (K, g))
    shape = GaussianFamily(model.covariance_type).strategy.shape(K, g)
    check_state_array(state, "covariances_", shape)
    _get_gaussian(model)


def _put_categorical(model, family, params):
    model.probabilities_ = family.split(params.probabilities)


def _put_poisson(model, family, params):
    model.rates_ = params.lambdas


def _put_bernoulli(model, family, params):
    model.binary_probabilities_ = params.probabilities


#: Family name -> its part of the estimator, in the order column groups are listed.
_PARTS = {
    "gaussian": _Part(
        family=lambda m: GaussianFamily(m.covariance_type, m.reg_covar),
        put=_put_gaussian,
        get=_get_gaussian,
        check=_check_gaussian,
    ),
    "categorical": _Part(
        family=lambda m: CategoricalItemsFamily([len(c) for c in m.categories_]),
        put=_put_categorical,
        get=lambda m: ItemParams(np.concatenate(m.probabilities_, axis=1)),
        check=lambda m, K, g: check_item_state(vars(m), K, g),
    ),
    "poisson": _Part(
        family=lambda m: PoissonFamily(),
        put=_put_poisson,
        get=lambda m: PoissonParams(np.asarray(m.rates_, dtype=np.float64)),
        check=lambda m, K, g: check_state_array(vars(m), "rates_", (K, g), low=0.0),
    ),
    "bernoulli": _Part(
        family=lambda m: BernoulliFamily(),
        put=_put_bernoulli,
        get=lambda m: BernoulliParams(np.asarray(m.binary_probabilities_, dtype=np.float64)),
        check=lambda m, K, g: check_state_array(
            vars(m), "binary_probabilities_", (K, g), low=0.0, high=1.0
        ),
    ),
}

#: The families a column group can use.
FAMILY_NAMES = tuple(_PARTS)


class MixedMixture(BaseMixture):
    """Mixture of mixed-type rows: each group of columns has its own family, by EM.

    The columns named for each family are independent given the component (StepMix's
    "mixed" measurement, pomegranate's independent components): e.g. Gaussian on the
    continuous columns, categorical items on the answers, Poisson on the counts.

    Parameters
    ----------
    n_components, tol, max_iter, n_init, init_params, weights_init, random_state, \
    warm_start, verbose, verbose_interval, chunk_size, learning_decay, learning_offset
        As in :class:`~emkit.GaussianMixture`.
    families : dict, default=None
        Family name (``'gaussian'``, ``'categorical'``, ``'poisson'``, ``'bernoulli'``) to
        the columns it models (indices, or names when X is a DataFrame). The groups must be
        disjoint and cover every column. Required.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='diag'
        Covariance structure of the Gaussian columns.
    reg_covar : float, default=1e-6
        Added to the diagonal of the Gaussian covariances.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_, covariances_ : ndarray
        Of the Gaussian columns (when there are some), as in :class:`GaussianMixture`.
    probabilities_ : list of ndarray
        Of the categorical columns, as in :class:`CategoricalMixture`.
    rates_ : ndarray of shape (n_components, n_poisson_columns)
        Of the Poisson columns.
    binary_probabilities_ : ndarray of shape (n_components, n_bernoulli_columns)
        Of the Bernoulli columns.
    columns_ : dict
        Family name to the column indices it models.
    categories_ : list of ndarray
        Categories of the categorical columns, in their order in ``columns_``.
    """

    def __init__(
        self,
        n_components=1,
        *,
        families=None,
        covariance_type="diag",
        reg_covar=1e-6,
        tol=1e-3,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        chunk_size=None,
        learning_decay=0.6,
        learning_offset=2.0,
    ):
        super().__init__(**common_arguments(locals()))
        self.families = families
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar

    def _check_family_params(self):
        v.check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        v.check_real(self.reg_covar, "reg_covar", 0.0)
        if not isinstance(self.families, dict) or not self.families:
            raise ValidationError(
                "families must be a dict of family name to columns, e.g. "
                "{'gaussian': [0, 1], 'categorical': [2, 3]}"
            )
        unknown = sorted(set(self.families) - set(FAMILY_NAMES))
        if unknown:
            raise ValidationError(
                f"families has unknown family name(s) {unknown}; use {list(FAMILY_NAMES)}"
            )

    def _make_family(self):
        return ProductFamily([(_PARTS[n].family(self), self.columns_[n]) for n in self.columns_])

    def _resolve_columns(self, names, n_columns):
        """Column indices of each family; every column in exactly one group."""
        owner = {}
        out = {}
        for family in FAMILY_NAMES:
            if family not in self.families:
                continue
            idx = []
            for spec in np.atleast_1d(np.asarray(self.families[family], dtype=object)):
                j = _column_index(spec, names, n_columns, family)
                if j in owner:
                    raise ValidationError(
                        f"column {spec!r} is given to both {owner[j]!r} and {family!r} in "
                        "families; give each column to one family"
                    )
                owner[j] = family
                idx.append(j)
            out[family] = np.asarray(idx, dtype=np.intp)
        left = sorted(set(range(n_columns)) - set(owner))
        if left:
            shown = [names[j] for j in left] if names else left
            raise ValidationError(
                f"families does not cover column(s) {shown} of X; give every column a "
                "family (or drop the columns from X)"
            )
        return out

    def _check_data(self, X, reset):
        columns, names = cat.columns_of(X)
        if reset:
            self.columns_ = self._resolve_columns(names, len(columns))
            self.n_features_in_ = len(columns)
            vars(self).pop("feature_names_in_", None)
            if names is not None:
                self.feature_names_in_ = np.asarray(names, dtype=object)
        elif len(columns) != self.n_features_in_:
            raise ValidationError(
                f"X has {len(columns)} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        out = np.empty((len(columns[0]), len(columns)))
        categorical = self.columns_.get("categorical", np.empty(0, dtype=np.intp))
        if reset:
            self.categories_ = [cat.learn_categories(columns[j], j) for j in categorical]
        for j, col in enumerate(columns):
            if j not in categorical:
                out[:, j] = _numeric(col, j)
        for cats, j in zip(self.categories_, categorical, strict=True):
            out[:, j] = cat.encode(columns[j], cats, j)
        return self._check_block(out)

    def _check_block(self, X):
        gaussian = self.columns_.get("gaussian")
        if gaussian is not None and np.isinf(X[:, gaussian]).any():
            raise ValidationError(
                "X has infinity in a gaussian column; replace or drop the non-finite values "
                "(NaN marks a missing value)"
            )
        return self._make_family().check_data(X)

    def _source(self, X, sample_weight, *, reset):
        if reset and is_out_of_core(X):
            X = open_array(X)
            self.columns_ = self._resolve_columns(None, int(X.shape[1]))
            categorical = self.columns_.get("categorical", [])
            self.categories_ = (
                [np.arange(m) for m in cat.code_ranges(X, categorical)] if len(categorical) else []
            )
        return super()._source(X, sample_weight, reset=reset)

    def _set_components(self, c, dtype):
        families = self._make_family().families
        for name, family, params in zip(self.columns_, families, c.parts, strict=True):
            _PARTS[name].put(self, family, params)

    def _get_components(self):
        return ProductParams(tuple(_PARTS[name].get(self) for name in self.columns_))

    def _check_component_state(self, K, d):
        state = vars(self)
        if not isinstance(state.get("columns_"), dict):
            raise TypeError("columns_ must be a dict of family name to column indices")
        if self._resolve_columns(_names(state), d).keys() != self.columns_.keys():
            raise ValueError("columns_ does not match the families parameter")
        for name, cols in self.columns_.items():
            _PARTS[name].check(self, K, len(cols))

    def _decode_sample(self, X):
        if "categorical" not in self.columns_:
            return X
        out = X.astype(object)
        for cats, j in zip(self.categories_, self.columns_["categorical"], strict=True):
            out[:, j] = np.asarray(cats, dtype=object)[X[:, j].astype(np.intp)]
        return out


def _numeric(col, j):
    try:
        return np.asarray(col, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(
            f"column {j} of X is not numeric; give it to the 'categorical' family"
        ) from None


def _column_index(spec, names, n_columns, family):
    if isinstance(spec, str):
        if names is None or spec not in names:
            raise ValidationError(
                f"families[{family!r}] names column {spec!r}, which X does not have (names "
                "need a DataFrame with string column names)"
            )
        return names.index(spec)
    if isinstance(spec, bool) or not isinstance(spec, (int, np.integer)):
        raise ValidationError(f"families[{family!r}] must list column indices or names")
    if not 0 <= spec < n_columns:
        raise ValidationError(
            f"families[{family!r}] has column {spec}, but X has {n_columns} columns"
        )
    return int(spec)


def _names(state):
    names = state.get("feature_names_in_")
    return None if names is None else [str(n) for n in names]
