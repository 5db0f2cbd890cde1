"""Data files of the command line: reading tables, choosing columns, grouping sequences, output.

Data files are CSV (numeric columns, optional header row) or ``.npy`` arrays, which are
memory-mapped and streamed by the models when every column is used.

- Header: the first non-blank row is a header when one of its fields (outside the columns
  chosen by number to be left out or to identify sequences) is not a number.
- A header whose first field is empty is the index column that pandas' ``to_csv()`` writes:
  that column is row labels, never a feature.
- ``--columns`` / ``--drop`` take comma-separated header names or 1-based column numbers
  (numbers count the file's columns, an index column included; a name wins over a number).
- ``--lengths-column`` names the column identifying the sequence of each row. Ids are compared
  as text; the rows of each id form one sequence, in the order the ids first appear and with
  their rows in file order, so interleaved ids are grouped (``decode`` writes its states back
  in the file's row order).
"""

from __future__ import annotations

import csv
import os
import sys
from dataclasses import dataclass

import numpy as np

from emkit.cli.common import CommandError
from emkit.io import STDOUT, check_destination, open_output

__all__ = [
    "Table",
    "check_output",
    "group_sequences",
    "read_data",
    "read_table",
    "source_name",
    "write_table",
]


@dataclass
class Table:
    """Rows of a data file after choosing columns.

    Attributes
    ----------
    X : ndarray or numpy.memmap of shape (n_samples, n_features)
    names : list of str or None
        Names of the columns of ``X`` (None without a header row).
    ids : ndarray of shape (n_samples,) or None
        The sequence id of each row (``--lengths-column``), None without one.
    """

    X: np.ndarray
    names: list | None
    ids: np.ndarray | None = None


@dataclass(frozen=True)
class Selection:
    """Which columns to read: ``columns``/``drop`` lists and the sequence-id column.

    ``prefer`` is a list of names used like ``columns`` when neither ``columns`` nor ``drop``
    is given and the header has all of them (a model's columns).
    """

    columns: list | None = None
    drop: list | None = None
    id_column: str | None = None
    prefer: list | None = None

    def _index(self, spec, option, names, width, source):
        if names is not None and spec in names:
            return names.index(spec)
        if spec.isdigit():
            if 1 <= int(spec) <= width:
                return int(spec) - 1
            raise CommandError(f"{option} {spec}: {source} has columns 1 to {width}")
        if names is None:
            raise CommandError(
                f"{option} {spec!r}: {source} has no header row, so choose columns by number "
                f"(1 to {width})"
            )
        raise CommandError(
            f"{option} {spec!r} is not a column of {source} (columns: {', '.join(names)})"
        )

    def unparsed(self, width):
        """Positions chosen by number that are never parsed as numbers (so may hold text).

        The complement of ``--columns`` given by numbers only, plus ``--drop`` and
        ``--lengths-column`` numbers: the first row is a header only if some other field of it
        is not a number.
        """

        def numbers(specs):
            return {int(s) - 1 for s in specs if s.isdigit() and 1 <= int(s) <= width}

        skip = numbers([*(self.drop or ()), *([self.id_column] if self.id_column else [])])
        if self.columns and all(s.isdigit() for s in self.columns):
            skip |= set(range(width)) - numbers(self.columns)
        return skip

    def resolve(self, names, width, source, index_column=False):
        """Positions of the feature columns and of the id column (or None).

        Parameters
        ----------
        names : list of str or None
            The header.
        width : int
            Number of columns in the file.
        source : str
            File name for messages.
        index_column : bool
            The first column is a pandas index (never a feature).
        """
        ident = None
        if self.id_column is not None:
            ident = self._index(self.id_column, "--lengths-column", names, width, source)
        columns = self.columns
        if columns is None and self.drop is None and self.prefer and names is not None:
            if set(self.prefer) <= set(names) and list(self.prefer) != names:
                columns = self.prefer
        if columns is not None:
            features = [self._index(s, "--columns", names, width, source) for s in columns]
            if len(set(features)) != len(features):
                raise CommandError(f"--columns lists a column of {source} twice")
            if ident is not None and ident in features:
                raise CommandError("--columns lists the --lengths-column; leave it out")
        else:
            features = [j for j in range(width) if not (index_column and j == 0)]
        dropped = {self._index(s, "--drop", names, width, source) for s in self.drop or ()}
        features = [j for j in features if j not in dropped and j != ident]
        if not features:
            raise CommandError(f"{source} has no feature columns left to use")
        return features, ident


def source_name(path):
    """How messages name a data path (``<stdin>`` for ``-``)."""
    return "<stdin>" if path == STDOUT else os.fspath(path)


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_header(fields, skip):
    """Whether the first row is a header: a field that is text, or pandas' numbered columns.

    An empty field is a missing value, except that ``DataFrame.to_csv`` writes the header of
    a frame with numbered columns as an empty index name followed by ``0, 1, 2, ...``.
    """
    if not all(_is_number(x) or not x.strip() for j, x in enumerate(fields) if j not in skip):
        return True
    numbered = [str(i) for i in range(len(fields) - 1)]
    return not fields[0].strip() and [x.strip() for x in fields[1:]] == numbered


def _value(text):
    """A numeric field: an empty one is a missing value (NaN)."""
    return float(text) if text.strip() else np.nan


# ---------------------------------------------------------------------------- CSV
def read_table(path, delimiter=",", selection=None, text=False):
    """Read a numeric CSV file with an optional header row (or a text one with a header).

    Parameters
    ----------
    path : str
        File path, or ``"-"`` for standard input.
    delimiter : str, default=","
    selection : Selection, optional
        Columns to read and the sequence-id column.
    text : bool, default=False
        Keep the fields as text (categorical answers; an empty field is a missing answer):
        the first row is then always the header.

    Returns
    -------
    Table

    Raises
    ------
    CommandError
        With the file, line and column of the first bad field.
    """
    source = source_name(path)
    selection = selection or Selection()
    try:
        if path == STDOUT:
            return _parse_table(sys.stdin, source, delimiter, selection, text)
        with open(path, encoding="utf-8-sig", newline="") as f:
            return _parse_table(f, source, delimiter, selection, text)
    except FileNotFoundError:
        raise CommandError(f"data file {source} does not exist") from None
    except IsADirectoryError:
        raise CommandError(f"data file {source} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise CommandError(f"{source} is not a UTF-8 text (CSV) file") from None
    except csv.Error as err:
        raise CommandError(f"{source} is not a readable CSV file ({err})") from None
    except OSError as err:
        raise CommandError(f"cannot read {source}: {err.strerror or err}") from None


def _parse_table(f, source, delimiter, selection, text=False):
    reader = csv.reader(f, delimiter=delimiter)
    names = features = ident = width = None
    rows, ids = [], []
    for fields in reader:
        if not any(field.strip() for field in fields):
            continue
        if width is None:
            width = len(fields)
            skip = selection.unparsed(width)
            header = text or _is_header(fields, skip)
            names = [x.strip() for x in fields] if header else None
            index_column = header and width > 1 and names[0] == ""
            features, ident = selection.resolve(names, width, source, index_column)
            if header:
                continue
        if len(fields) != width:
            raise CommandError(
                f"{source}, line {reader.line_num}: {len(fields)} fields where the "
                f"{'header' if names else 'first row'} has {width}"
            )
        if text:
            rows.append([fields[j].strip() or None for j in features])
        else:
            try:
                rows.append([_value(fields[j]) for j in features])
            except ValueError:
                _raise_bad_field(fields, features, names, source, reader.line_num)
        if ident is not None:
            ids.append(fields[ident].strip())
    if not rows:
        raise CommandError(f"{source} has no data rows")
    X = np.array(rows, dtype=object if text else np.float64)
    chosen = [names[j] for j in features] if names else None
    return Table(X, chosen, np.array(ids) if ident is not None else None)


def _raise_bad_field(fields, features, names, source, line):
    for j in features:
        field = fields[j]
        if _is_number(field) or not field.strip():
            continue
        column = f"column {j + 1}"
        if names:
            column += f" ({names[j]})"
        raise CommandError(f"{source}, line {line}, {column}: {field.strip()!r} is not a number")


# ---------------------------------------------------------------------------- .npy
def read_npy(path, selection=None, columns="real"):
    """Memory-map a ``.npy`` array and choose its columns (by number: it has no header).

    Parameters
    ----------
    path : str
    selection : Selection, optional
    columns : {"real", "counts", "symbols"}, default="real"
        For ``real`` columns an integer or boolean array is converted to float64 (in memory).

    Returns
    -------
    Table
        ``X`` stays memory-mapped when every column is used as it is.
    """
    selection = selection or Selection()
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise CommandError(f"data file {path} does not exist") from None
    except IsADirectoryError:
        raise CommandError(f"data file {path} is a directory, not a file") from None
    except (ValueError, OSError) as err:
        raise CommandError(f"{path} is not a readable .npy array file ({err})") from None
    if not isinstance(X, np.ndarray) or X.dtype.kind not in "biuf":
        kind = getattr(X, "dtype", type(X).__name__)
        raise CommandError(f"{path} holds {kind} values; emkit reads arrays of numbers")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2 or X.shape[0] == 0:
        raise CommandError(
            f"{path} holds an array of shape {X.shape}; expected (n_samples, n_features)"
        )
    width = X.shape[1]
    features, ident = selection.resolve(None, width, path)
    ids = None if ident is None else np.asarray(X[:, ident])
    if features != list(range(width)):
        X = np.asarray(X[:, features])
    if columns in ("real", "text") and X.dtype.kind in "biu":
        X = np.asarray(X, dtype=np.float64)
    return Table(X, None, ids)


def read_data(path, delimiter=",", selection=None, columns="real"):
    """Read a data file: a ``.npy`` array is memory-mapped, anything else is CSV.

    Parameters
    ----------
    path : str
        File path, or ``"-"`` for CSV on standard input.
    delimiter : str, default=","
        CSV field separator.
    selection : Selection, optional
    columns : {"real", "counts", "symbols", "text"}, default="real"
        How the columns are read (see :func:`read_npy`); ``symbols`` need exactly one column;
        ``text`` keeps CSV fields as text (a ``.npy`` file then holds category codes).

    Returns
    -------
    Table
    """
    if path.lower().endswith(".npy"):
        table = read_npy(path, selection, columns)
    else:
        table = read_table(path, delimiter, selection, text=columns == "text")
    if columns == "symbols" and table.X.shape[1] != 1:
        raise CommandError(
            f"categorical data needs exactly one column of integer symbols; "
            f"{source_name(path)} has {table.X.shape[1]} (choose one with --columns)"
        )
    return table


def group_sequences(ids):
    """Group rows by sequence id: first-appearance order of the ids, file order within each.

    Parameters
    ----------
    ids : array-like of shape (n_samples,)

    Returns
    -------
    order : ndarray of int of shape (n_samples,)
        Row indices, grouped: ``X[order]`` stacks the sequences.
    lengths : ndarray of int of shape (n_sequences,)
    """
    ids = np.asarray(ids)
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    group = rank[np.ravel(inverse)]
    return np.argsort(group, kind="stable"), np.bincount(group)


# ---------------------------------------------------------------------------- output
def check_output(path, *inputs):
    """Check an output path before the work: writable, and none of the ``inputs``.

    Raises
    ------
    CommandError
        If ``path`` is one of the input files (the same file, by any name).
    OSError
        If it cannot be written.
    """
    if path is None or path == STDOUT:
        return
    for source in inputs:
        if source in (None, STDOUT) or not os.path.exists(source):
            continue
        if os.path.exists(path) and os.path.samefile(path, source):
            raise CommandError(
                f"refusing to overwrite the input file {source} with the output {path}; "
                "choose another output path"
            )
    check_destination(path)


def write_table(path, header, columns, formats):
    """Write columns as CSV to ``path`` (see :func:`emkit.io.open_output`) or standard output.

    Parameters
    ----------
    path : str or None
        Output file; None or ``"-"`` writes to standard output.
    header : list of str
    columns : ndarray of shape (n_rows, n_columns)
    formats : list of str
        One printf-style format per column.
    """
    options = {"fmt": formats, "delimiter": ",", "header": ",".join(header), "comments": ""}
    if path is None or path == STDOUT:
        np.savetxt(sys.stdout, columns, **options)
        return
    with open_output(path, "w", encoding="utf-8", newline="") as f:
        np.savetxt(f, columns, **options)
