"""A shared thread pool for compiled kernels that release the GIL.

Kernels split their rows into fixed *parts* and write one partial result per part, so the
result never depends on how the parts are grouped onto threads; this module only decides the
grouping. The number of threads follows numba's setting (``NUMBA_NUM_THREADS`` or
``numba.set_num_threads``), so one knob controls all of emkit's parallelism.
"""

from __future__ import annotations

import collections
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

_lock = threading.Lock()
_pool = None
_pool_pid = None
_local = threading.local()


def _mark_worker():
    _local.worker = True


def n_threads():
    """Threads the kernels may use (numba's current setting).

    Until something has started numba's own thread pool (``numba.set_num_threads`` does),
    the setting is ``NUMBA_NUM_THREADS``: reading it then does not start that pool, which
    emkit's kernels never use (a few milliseconds, and idle threads, spared).
    """
    import numba
    from numba.np.ufunc import parallel

    if not getattr(parallel, "_is_initialized", True):
        return int(numba.config.NUMBA_NUM_THREADS)
    return int(numba.get_num_threads())


def _get_pool():
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            import numba

            workers = max(1, int(numba.config.NUMBA_NUM_THREADS))
            _pool = ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="emkit", initializer=_mark_worker
            )
            _pool_pid = os.getpid()
        return _pool


def run_ranges(func, n_items):
    """Call ``func(lo, hi)`` on contiguous ranges covering ``range(n_items)``, concurrently.

    The calling thread runs the first range itself; the call returns when every range is
    done and re-raises the first exception. Called from inside a pool thread (nested use),
    it runs everything in that thread, so that it never waits on the pool it occupies.

    Parameters
    ----------
    func : callable
        ``func(lo, hi)``; it must release the GIL to run in parallel.
    n_items : int
        Number of items (parts) to cover.
    """
    threads = 1 if getattr(_local, "worker", False) else min(n_threads(), n_items)
    if threads <= 1:
        if n_items > 0:
            func(0, n_items)
        return
    bounds = [n_items * i // threads for i in range(threads + 1)]
    pool = _get_pool()
    futures = [pool.submit(func, bounds[i], bounds[i + 1]) for i in range(1, threads)]
    try:
        func(bounds[0], bounds[1])
    finally:
        for future in futures:
            future.result()


def run_in_rounds(work, n_items, group, collect):
    """Process items in rounds of ``group`` with bounded per-item scratch memory.

    Each round runs ``work(lo, hi, first)`` over its items concurrently (see
    :func:`run_ranges`), where item ``i`` owns scratch slot ``i - first``; then, in the calling
    thread, ``collect(first, stop)`` folds the round's slots into running totals. Rounds and
    slots follow item order, so the totals do not depend on the number of threads.

    Parameters
    ----------
    work : callable
        ``work(lo, hi, first)``.
    n_items : int
    group : int
        Items per round (the number of scratch slots); must not depend on the thread count.
    collect : callable
        ``collect(first, stop)``.
    """
    group = max(1, int(group))
    for first in range(0, n_items, group):
        stop = min(n_items, first + group)

        def part(lo, hi, first=first):
            work(first + lo, first + hi, first)

        run_ranges(part, stop - first)
        collect(first, stop)


def map_ordered(func, items):
    """Yield ``func(item)`` for every item, in order, computed concurrently on the pool.

    At most twice as many items as threads are in flight, so memory stays bounded; ``items``
    is consumed in the calling thread. Inside a pool thread, or with one thread, it runs
    serially.

    Parameters
    ----------
    func : callable
        ``func(item)``; it must release the GIL to run in parallel.
    items : iterable
    """
    threads = n_threads()
    if threads <= 1 or getattr(_local, "worker", False):
        for item in items:
            yield func(item)
        return
    pool = _get_pool()
    pending = collections.deque()
    for item in items:
        pending.append(pool.submit(func, item))
        if len(pending) >= 2 * threads:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


_blas_lock = threading.Lock()
_blas = {"depth": 0, "limiter": None, "controller": None}


@contextmanager
def one_blas_thread():
    """Context manager: BLAS and LAPACK on one thread while any caller is inside it.

    For small matrix work (the M-step's ``d x d`` factorisations) and for BLAS called from
    the pool's threads: waking OpenBLAS's own threads there costs more than it saves, and
    they keep spinning afterwards, competing with the E-step's threads for the cores. The
    limit is process-wide (it is BLAS's setting); nested and concurrent uses share it, and
    the last one out restores the previous setting. OpenBLAS takes the setting only from the
    main thread, so the outermost use should be there.
    """
    with _blas_lock:
        if _blas["depth"] == 0:
            if _blas["controller"] is None:
                from threadpoolctl import ThreadpoolController

                _blas["controller"] = ThreadpoolController()
            _blas["limiter"] = _blas["controller"].limit(limits=1, user_api="blas")
        _blas["depth"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas["depth"] -= 1
            if _blas["depth"] == 0:
                _blas["limiter"].restore_original_limits()
                _blas["limiter"] = None
