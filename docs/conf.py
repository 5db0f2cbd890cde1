"""Sphinx configuration of emkit's documentation (``make docs``; warnings are errors)."""

import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # the sources next to this folder

import emkit  # noqa: E402

project = "emkit"
author = "emkit developers"
copyright = "emkit developers"
version = release = emkit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

# numpydoc: the parameter tables come from the docstrings; members are listed by autodoc.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "ignore_pattern": r"data/",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "plot_gallery": "True",
}

templates_path = []
exclude_patterns = ["_build", "examples", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "pydata_sphinx_theme"
html_title = f"emkit {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path = []


def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Leave out what estimators inherit from scikit-learn (get_params, metadata routing)."""
    module = getattr(obj, "__module__", None) or ""
    return True if module.startswith("sklearn") else None


# An attribute name in a shape, ``(n_features_in_,)``, would read as a reST link target.
_SHAPE_NAME = re.compile(r"(?<=[(, ])([a-z][a-z0-9_]*)_(?=[,)])")


def _escape_shape_names(app, what, name, obj, options, lines):
    """Escape the trailing underscore of attribute names inside ``shape (...)``."""
    for i, line in enumerate(lines):
        if "shape (" in line:
            lines[i] = _SHAPE_NAME.sub(r"\1\\_", line)


def setup(app):
    """Register the member filter and the docstring fix-up (before numpydoc)."""
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)
    app.connect("autodoc-process-docstring", _escape_shape_names, priority=400)
