"""Hidden Markov models fitted by Baum-Welch: drop-in replacements for ``hmmlearn.hmm``.

>>> from emkit.hmm import GaussianHMM
>>> model = GaussianHMM(n_components=3, covariance_type="full").fit(X, lengths)  # doctest: +SKIP

Same constructor parameters, fitted attributes (``startprob_``, ``transmat_``, ``means_``,
``covars_``, ``weights_``, ``emissionprob_``, ``lambdas_``, ``monitor_``) and methods (``fit``,
``score``, ``score_samples``, ``predict``, ``predict_proba``, ``decode``, ``sample``, ``aic``,
``bic``) as hmmlearn, plus per-sequence ``sample_weight`` in ``fit``, ``score``, ``aic`` and
``bic``, and ``X`` given as a ``numpy.memmap`` or the path of a ``.npy`` file. The README's
"Differences from hmmlearn" lists where the answers differ on purpose.
"""

from emkit.engine.markov import ConvergenceMonitor
from emkit.models.hmm_discrete import CategoricalHMM, PoissonHMM
from emkit.models.hmm_gaussian import GaussianHMM
from emkit.models.hmm_gmm import GMMHMM

__all__ = ["GMMHMM", "CategoricalHMM", "ConvergenceMonitor", "GaussianHMM", "PoissonHMM"]
