"""Progress of long work: scikit-learn's verbose lines and tqdm progress bars.

:class:`Progress` prints the initialisation and iteration messages scikit-learn prints
(``verbose``), records the lower bound of every iteration of every restart (``traces``) and,
while progress bars are switched on (:class:`progress_bars`), shows a bar of the restarts on
standard error. :func:`progress_bar` is the bar itself, for any other loop (a grid of models,
passes over a file); it is a silent stand-in while bars are off, so callers never branch.
"""

from __future__ import annotations

import sys
import weakref
from contextvars import ContextVar
from time import perf_counter

from tqdm import tqdm

__all__ = ["Progress", "bars_enabled", "progress_bar", "progress_bars"]

_ENABLED = ContextVar("emkit_progress_bars", default=False)
# The bars opened by progress_bar (a closed tqdm bar is disabled).
_LIVE = weakref.WeakSet()
# Seconds between two redraws of a bar's text (an iteration can take microseconds).
_REDRAW_INTERVAL = 0.1


def _resolve(enabled):
    if enabled == "auto":
        stream = sys.stderr
        return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be True, False or 'auto', got {enabled!r}")
    return enabled


class progress_bars:  # used like a function: progress_bars(True), or with ... as a context
    """Switch emkit's progress bars on or off (on standard error, never standard output).

    Called alone it sets the switch until changed again; used as a context manager it
    restores the previous setting on exit. Bars are shown for the restarts of a mixture fit
    (``n_init``), the passes over a memory-mapped file, and the iterations of an HMM fit.

    Parameters
    ----------
    enabled : bool or "auto", default=True
        ``"auto"`` shows bars only when standard error is a terminal (what the command line
        does).

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import GaussianMixture
    >>> from emkit.engine.progress import progress_bars
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> with progress_bars(False):
    ...     gm = GaussianMixture(2, n_init=3, random_state=0).fit(X)
    """

    def __init__(self, enabled=True):
        self._token = _ENABLED.set(_resolve(enabled))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        _ENABLED.reset(self._token)


def bars_enabled():
    """Whether progress bars are switched on in the current context."""
    return _ENABLED.get()


class _NoBar:
    """The stand-in for a bar while bars are off: the same methods, doing nothing."""

    n = 0

    def __init__(self, iterable=None):
        self._iterable = iterable

    def __iter__(self):
        return iter(self._iterable)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def update(self, n=1):
        """Ignore ``n`` steps."""

    def reset(self, total=None):
        """Nothing to reset."""

    def set_postfix_str(self, s="", refresh=True):
        """Ignore the text."""

    def close(self):
        """Nothing to close."""


def progress_bar(iterable=None, *, total=None, desc=None, unit="it", leave=True, position=None):
    """A tqdm progress bar on standard error, or a silent stand-in while bars are off.

    Parameters
    ----------
    iterable : iterable, optional
        Wrapped: iterating the bar iterates it and counts its items.
    total : int, optional
        Number of steps (``len(iterable)`` by default when it has one).
    desc : str, optional
        Label in front of the bar.
    unit : str, default="it"
    leave : bool, default=True
        Keep the finished bar on the screen. A bar opened while another is open (the fits of
        a grid of models, the passes of one fit) is always erased when done.
    position : int, optional
        Line of the bar (1 for a bar under another).

    Returns
    -------
    tqdm.tqdm or a stand-in with the same ``update``, ``reset``, ``set_postfix_str`` and
    ``close`` methods; both are context managers.
    """
    if not bars_enabled():
        return _NoBar(iterable)
    nested = any(not bar.disable for bar in _LIVE)  # under another bar: erased when done
    bar = tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        leave=leave and not nested,
        position=position,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    _LIVE.add(bar)
    return bar


class _Throttle:
    """Tell whether enough time passed since the last redraw."""

    def __init__(self):
        self._last = -float("inf")

    def __call__(self, force=False):
        now = perf_counter()
        if force or now - self._last >= _REDRAW_INTERVAL:
            self._last = now
            return True
        return False


class _WatchedSource:
    """A block source whose passes advance an inner bar of rows (a memory-mapped file)."""

    def __init__(self, source):
        self._source = source
        self._bar = None

    def __getattr__(self, name):
        return getattr(self._source, name)

    def blocks(self):
        """The source's blocks; each advances the bar by its rows."""
        n = self._source.n_samples
        if self._bar is None:  # opened with the first pass: under the bar of restarts
            self._bar = progress_bar(total=n, desc="pass", unit="row", leave=False)
        self._bar.reset(total=n)
        for block in self._source.blocks():
            yield block
            self._bar.update(block.X.shape[0])

    def close(self):
        """Close (erase) the bar of passes."""
        if self._bar is not None:
            self._bar.close()


class Progress:
    """Report the restarts and iterations of the EM driver.

    Prints scikit-learn's messages according to ``verbose``, records the lower bound of
    every iteration of every restart in :attr:`traces`, and shows a bar of the restarts while
    progress bars are on (:class:`progress_bars`).

    Parameters
    ----------
    verbose : int
        0 silent, 1 iteration numbers, 2 or more adds timings and changes.
    verbose_interval : int
        Print every this many iterations.

    Attributes
    ----------
    traces : list of list of float
        The mean log-likelihood (lower bound) of each iteration, one list per restart, in
        the order the restarts ran.
    """

    def __init__(self, verbose=0, verbose_interval=10):
        self.verbose = int(verbose)
        self.interval = max(1, int(verbose_interval))
        self._t_init = self._t_iter = perf_counter()
        self.traces = []
        self._bar = _NoBar()
        self._redraw = _Throttle()
        self._best = -float("inf")
        self._watched = None

    def init_begin(self, index, runs=None):
        """Announce initialisation ``index`` (of ``runs``)."""
        if index == 0 and bars_enabled():
            self._bar = progress_bar(total=runs, desc="EM restarts", unit="restart")
        if self.verbose >= 1:
            print(f"Initialization {index}")
            self._t_init = self._t_iter = perf_counter()

    def iteration(self, n_iter, change):
        """Report one finished iteration and the change of the monitored bound."""
        if self._redraw():
            self._bar.set_postfix_str(f"iteration {n_iter}, change {change:.3g}")
        if self.verbose == 0 or n_iter % self.interval:
            return
        if self.verbose == 1:
            print(f"  Iteration {n_iter}")
        else:
            now = perf_counter()
            print(
                f"  Iteration {n_iter}\t time lapse {now - self._t_iter:.5f}s\t "
                f"ll change {change:.5f}"
            )
            self._t_iter = now

    def init_end(self, lower_bound, converged, lower_bounds=()):
        """Report the end of one initialisation and record its bounds."""
        self.traces.append([float(b) for b in lower_bounds])
        self._best = max(self._best, lower_bound)
        self._bar.set_postfix_str(f"best lower bound {self._best:.6g}", refresh=False)
        self._bar.update(1)
        if self._bar.n == getattr(self._bar, "total", None):  # the last restart
            if self._watched is not None:
                self._watched.close()
            self._bar.close()
        msg = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {msg}.")
        elif self.verbose >= 2:
            t = perf_counter() - self._t_init
            print(f"Initialization {msg}. time lapse {t:.5f}s\t lower bound {lower_bound:.5f}.")

    def watch(self, source):
        """``source`` with each pass over it shown as an inner bar of rows (bars on only).

        For a streamed (memory-mapped) source, where one pass takes long; a source that
        computes elsewhere (Dask) is returned as it is.
        """
        if not bars_enabled() or hasattr(source, "expect"):
            return source
        self._watched = _WatchedSource(source)
        return self._watched


class IterationBar:
    """A bar of the iterations of one EM run (a hidden Markov model fit).

    Use it as a context manager and pass :meth:`callback` to the driver; silent while bars
    are off.

    Parameters
    ----------
    max_iter : int
        The most iterations the run may take (the bar's length).
    desc : str, default="EM iterations"
    """

    def __init__(self, max_iter, desc="EM iterations"):
        self._bar = progress_bar(total=max_iter, desc=desc, unit="iteration")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._bar.close()

    def callback(self, iteration, stats, params):
        """Advance by one iteration and show its log-likelihood (the driver's callback)."""
        # tqdm redraws at most every ``mininterval`` seconds, and on close.
        self._bar.set_postfix_str(f"log-likelihood {stats.log_likelihood:.8g}", refresh=False)
        self._bar.update(1)
