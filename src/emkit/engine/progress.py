"""Progress messages of the EM driver (the same lines scikit-learn prints)."""

from __future__ import annotations

from time import perf_counter


class Progress:
    """Print initialisation and iteration messages according to ``verbose``.

    Parameters
    ----------
    verbose : int
        0 silent, 1 iteration numbers, 2 or more adds timings and changes.
    verbose_interval : int
        Print every this many iterations.
    """

    def __init__(self, verbose=0, verbose_interval=10):
        self.verbose = int(verbose)
        self.interval = max(1, int(verbose_interval))
        self._t_init = self._t_iter = perf_counter()

    def init_begin(self, index):
        """Announce initialisation ``index``."""
        if self.verbose >= 1:
            print(f"Initialization {index}")
            self._t_init = self._t_iter = perf_counter()

    def iteration(self, n_iter, change):
        """Report one finished iteration and the change of the monitored bound."""
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

    def init_end(self, lower_bound, converged):
        """Report the end of one initialisation."""
        msg = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {msg}.")
        elif self.verbose >= 2:
            t = perf_counter() - self._t_init
            print(f"Initialization {msg}. time lapse {t:.5f}s\t lower bound {lower_bound:.5f}.")
