"""Kernels on any install: committed generated modules, safe caches, read-only installs."""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import emkit
from emkit.kernels import _jit, markov_unrolled

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(emkit.__file__).parent


def _generator():
    spec = importlib.util.spec_from_file_location(
        "generate_kernels", ROOT / "tools" / "generate_kernels.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_kernels_are_up_to_date():
    files = _generator().generated_files()
    assert len(files) == 2 * markov_unrolled.MAX_STATES  # likelihoods as an array, as a table
    for path, text in files.items():
        assert path.exists(), f"{path} is missing: run tools/generate_kernels.py"
        assert path.read_text() == text, f"{path} is stale: run tools/generate_kernels.py"


def test_generator_check_mode_reports_a_stale_file(tmp_path, monkeypatch, capsys):
    gen = _generator()
    monkeypatch.setattr(gen, "TARGET", tmp_path)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    assert gen.main(["--check"]) == 1  # nothing written yet
    assert not list(tmp_path.iterdir())
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0
    (tmp_path / "markov_k3.py").write_text("# edited\n")
    assert gen.main(["--check"]) == 1
    assert "markov_k3.py" in capsys.readouterr().out


@pytest.mark.parametrize("K", [1, 4, 8])
def test_unrolled_kernels_are_package_modules(K):
    module = markov_unrolled.kernels(K)
    assert module.__name__ == f"emkit.kernels.unrolled.markov_k{K}"
    assert Path(module.__file__).parent == PACKAGE / "kernels" / "unrolled"
    with pytest.raises(ValueError, match="1 to 8 states"):
        markov_unrolled.kernels(9)


def test_no_kernel_source_is_written_at_run_time():
    # Every module that defines compiled functions lives in the package; none in a temp folder.
    for name, module in list(sys.modules.items()):
        if name.startswith("emkit_markov_unrolled"):
            pytest.fail(f"run-time generated module {name} from {module.__file__}")


def test_locator_is_registered_after_numbas_in_tree_one():
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    names = [cls.__name__ for cls in impl._locator_classes]
    assert names.count("PrivateCacheLocator") == 1
    in_tree = next(i for i, n in enumerate(names) if n.lstrip("_") == "InTreeCacheLocator")
    assert names.index("PrivateCacheLocator") == in_tree + 1


def test_locator_only_serves_emkit_files(tmp_path):
    source = tmp_path / "other.py"
    source.write_text("def f():\n    return 1\n")
    spec = importlib.util.spec_from_file_location("other", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert _jit.PrivateCacheLocator.from_function(module.f, str(source)) is None


# ----------------------------------------------------------------- lazy top-level names
def test_import_emkit_loads_nothing_heavy():
    code = (
        "import sys, emkit\n"
        "heavy = ('sklearn', 'numba', 'dask', 'scipy', 'emkit.kernels', 'emkit.models')\n"
        "print([m for m in heavy if m in sys.modules])\n"
        "from emkit import GaussianMixture\n"
        "print(GaussianMixture.__module__)"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "emkit.models.gaussian_mixture"


def test_lazy_names_resolve_to_their_modules():
    from emkit import exceptions, io
    from emkit.models.gaussian_mixture import GaussianMixture

    assert emkit.GaussianMixture is GaussianMixture
    assert emkit.ValidationError is exceptions.ValidationError
    assert emkit.load is io.load and emkit.save is io.save
    assert set(emkit.__all__) <= set(dir(emkit))
    assert all(hasattr(emkit, name) for name in emkit.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        emkit.nope  # noqa: B018


# ----------------------------------------------------------------- private cache folder
@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    base = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(base))
    return base


def test_private_cache_dir_is_created_private(cache_home):
    path = _jit.private_cache_dir()
    assert path == str(cache_home / "emkit")
    mode = os.stat(path).st_mode
    assert stat.S_IMODE(mode) == 0o700
    assert _jit.private_cache_dir() == path  # reused when it exists


def test_private_cache_dir_falls_back_to_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _jit.private_cache_dir() == str(tmp_path / ".cache" / "emkit")


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777])
def test_private_cache_dir_refuses_a_shared_folder(cache_home, mode):
    (cache_home / "emkit").mkdir(parents=True)
    os.chmod(cache_home / "emkit", mode)
    assert _jit.private_cache_dir() is None


def test_private_cache_dir_refuses_a_symlink(cache_home, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    cache_home.mkdir()
    (cache_home / "emkit").symlink_to(target)
    assert _jit.private_cache_dir() is None


def test_private_cache_dir_refuses_a_parent_others_can_write(cache_home):
    cache_home.mkdir()
    os.chmod(cache_home, 0o777)  # not sticky: another user could swap emkit/ for theirs
    assert _jit.private_cache_dir() is None
    os.chmod(cache_home, 0o1777)  # sticky, like /tmp: entries are safe
    assert _jit.private_cache_dir() == str(cache_home / "emkit")


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder to another user needs root")
def test_private_cache_dir_refuses_another_users_folder(cache_home):
    (cache_home / "emkit").mkdir(parents=True, mode=0o700)
    os.chown(cache_home / "emkit", 65534, 65534)
    assert _jit.private_cache_dir() is None


# ----------------------------------------------------------------- read-only install
def _unprivileged():
    """Command prefix running a process that file permissions really apply to, or None."""
    if os.getuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    # root without the capabilities that bypass file permissions: a read-only file is then
    # read-only for it too (same test of the permission bits as for any user).
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]


@pytest.fixture(scope="module")
def read_only_site():
    """A read-only copy of the package (no numba cache in it) and an unwritable home."""
    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("no way to run a process that file permissions apply to")
    top = Path(tempfile.mkdtemp(prefix="emkit-ro-"))
    shutil.copytree(PACKAGE, top / "site" / "emkit", ignore=shutil.ignore_patterns("__pycache__"))
    (top / "home").mkdir()
    for folder in (top / "site", top / "home"):
        for path in [folder, *folder.rglob("*")]:
            os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) & ~0o222)
    yield top, prefix
    for path in [top, *top.rglob("*")]:
        os.chmod(path, 0o700)
    shutil.rmtree(top)


def _run(site, code, **env):
    top, base = site
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONPATH", "NUMBA_DISABLE_JIT")
    }
    environ.update(HOME=str(top / "home"), PYTHONPATH=str(top / "site"), **env)
    done = subprocess.run(
        [*base, sys.executable, *code],
        cwd=top / "site",
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no locator" not in done.stderr
    return done


def test_read_only_install_without_a_writable_home(read_only_site):
    top, _ = read_only_site
    code = textwrap.dedent(
        """
        import os
        import numpy as np
        import emkit
        assert not os.access(emkit.__path__[0], os.W_OK)  # the install really is read-only
        assert not os.access(os.path.expanduser("~"), os.W_OK)
        import emkit.hmm
        from emkit import GaussianMixture
        from emkit.kernels import _jit
        X = np.random.default_rng(0).normal(size=(300, 2))
        X[:150] += 4
        gm = GaussianMixture(2, random_state=0).fit(X)
        print(_jit.cache_root())
        print(repr(gm.lower_bound_))
        """
    )
    done = _run(read_only_site, ["-c", code])
    root, bound = done.stdout.split()
    assert not root.startswith(str(top))
    assert not os.path.exists(root)  # the throwaway folder is removed at exit
    assert done.stderr.count("CacheWarning") == 1
    import numpy as np

    from emkit import GaussianMixture

    X = np.random.default_rng(0).normal(size=(300, 2))
    X[:150] += 4
    assert float(bound) == pytest.approx(GaussianMixture(2, random_state=0).fit(X).lower_bound_)
    cli = _run(read_only_site, ["-m", "emkit.cli", "--help"])
    assert "usage: emkit" in cli.stdout


def test_read_only_install_caches_in_the_private_folder(read_only_site, tmp_path):
    cache = tmp_path / "xdg"
    code = textwrap.dedent(
        """
        import numpy as np
        from emkit.kernels import categorical_numba, _jit
        X = np.array([0, 2, 1, 2], dtype=np.int64)
        categorical_numba.symbol_counts(X, np.full((4, 2), 0.5), 3)
        print(_jit.cache_root())
        """
    )
    done = _run(read_only_site, ["-c", code], XDG_CACHE_HOME=str(cache))
    assert done.stdout.split()[-1] == str(cache / "emkit")
    assert "CacheWarning" not in done.stderr
    assert stat.S_IMODE(os.stat(cache / "emkit").st_mode) == 0o700
    index = list((cache / "emkit").rglob("*.nbi"))
    assert index, "nothing cached in the private folder"
    # A second process loads the cache rather than compiling again: same files, no warning.
    again = _run(read_only_site, ["-c", code], XDG_CACHE_HOME=str(cache))
    assert "CacheWarning" not in again.stderr
    assert sorted((cache / "emkit").rglob("*.nbi")) == sorted(index)


def test_read_only_install_refuses_a_shared_cache_folder(read_only_site, tmp_path):
    cache = tmp_path / "xdg"
    (cache / "emkit").mkdir(parents=True)
    os.chmod(cache / "emkit", 0o777)
    code = [
        "-c",
        "import emkit.kernels.markov_numba as m, emkit.kernels._jit as j; print(j.cache_root())",
    ]
    done = _run(read_only_site, code, XDG_CACHE_HOME=str(cache))
    assert not done.stdout.split()[-1].startswith(str(cache))
    assert done.stderr.count("CacheWarning") == 1
    assert not any((cache / "emkit").iterdir())


# ----------------------------------------------------------------- compile_all
_DEFAULT_FITS = """
import warnings
import numpy as np
import emkit.hmm as hmm
from emkit import GaussianMixture
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = rng.normal(size=(600, 3))
X[:300] += 3
for dtype in (np.float64, np.float32):
    for cov in ("full", "tied", "diag", "spherical"):
        gm = GaussianMixture(3, covariance_type=cov, random_state=0, max_iter=5)
        gm.fit(X.astype(dtype), sample_weight=np.ones(600)).predict_proba(X.astype(dtype))
        gm.fit(X.astype(dtype)).score_samples(X.astype(dtype))
long = rng.normal(size=(12_000, 2))
for K in range(1, 9):
    model = hmm.GaussianHMM(K, n_iter=2, random_state=0).fit(long)
    model.fit(long[:6000], lengths=[3000, 3000])
model.decode(long[:500], algorithm="viterbi")
model.decode(long[:500], algorithm="map")
model.score(long[:500])
model.sample(50, random_state=0)
for cov in ("full", "tied", "spherical"):
    hmm.GaussianHMM(3, covariance_type=cov, n_iter=2, random_state=0).fit(long[:3000])
symbols = rng.integers(0, 4, size=(3000, 1))
hmm.CategoricalHMM(3, n_iter=2, random_state=0).fit(symbols).predict(symbols)
hmm.PoissonHMM(2, n_iter=2, random_state=0).fit(rng.poisson(3.0, size=(3000, 2)))
hmm.GMMHMM(2, n_mix=2, n_iter=2, random_state=0).fit(long[:3000])
import emkit
counts = rng.poisson(3.0, size=(500, 3))
for w in (None, np.ones(500)):
    emkit.PoissonMixture(2, max_iter=3, random_state=0).fit(counts, sample_weight=w)
    answers = rng.integers(0, 3, size=(500, 4)).astype(float)
    answers[0, 0] = np.nan
    emkit.CategoricalMixture(2, max_iter=3, random_state=0).fit(answers, sample_weight=w)
"""


def _cache_files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.slow
def test_compile_all_builds_every_kernel_the_default_paths_use(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    src = str(PACKAGE.parent)
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    labels = subprocess.run(
        [
            sys.executable,
            "-c",
            "from emkit.kernels.compile import compile_all\n"
            "compile_all(lambda i, n, label: print(i, n, label))",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert labels[-1].endswith("done") and labels[0].startswith("0 ")
    built = _cache_files(tmp_path / "cache")
    assert built
    subprocess.run([sys.executable, "-c", _DEFAULT_FITS], env=env, check=True)
    # Nothing new compiled: every signature the fits needed was in the cache already.
    assert _cache_files(tmp_path / "cache") == built


def test_compile_all_reports_progress(monkeypatch):
    from emkit.kernels import compile as kc

    calls = []
    monkeypatch.setattr(kc, "TASKS", (("a", lambda: calls.append("a")), ("b", lambda: None)))
    seen = []
    assert kc.compile_all(lambda i, n, label: seen.append((i, n, label))) == 2
    assert calls == ["a"]
    assert seen == [(0, 2, "a"), (1, 2, "b"), (2, 2, "done")]
