"""All-or-nothing estimator updates: a failed fit leaves the earlier state as it was."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def unchanged_on_error(estimator):
    """Restore every attribute of ``estimator`` if the block raises, then re-raise."""
    snapshot = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(snapshot)
        raise
