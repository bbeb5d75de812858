"""Readers for the file formats of the MovieLens releases, used by `datasets`.

Large files are parsed by pandas' C parser with fixed column types. When that
fails, a slow line-by-line pass over the same file finds the first bad line,
so that the error names the file and the line number.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Iterator

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .datasets import ReleaseFiles

# Genre flag order of ml-100k's u.item, as listed in its u.genre.
GENRES_100K = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
]
NO_GENRES = "(no genres listed)"  # the CSV releases' value for "none"

# ml-1m's users.dat codes, as defined in the release's README.
AGE_GROUPS_1M = {1: "Under 18", 18: "18-24", 25: "25-34", 35: "35-44",
                 45: "45-49", 50: "50-55", 56: "56+"}
OCCUPATIONS_1M = [
    "other", "academic/educator", "artist", "clerical/admin",
    "college/grad student", "customer service", "doctor/health care",
    "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
    "programmer", "retired", "sales/marketing", "scientist", "self-employed",
    "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
]


class MalformedFileError(ValueError):
    """A release file has a row that does not fit its format."""


class _BadLine(Exception):
    def __init__(self, number: int, reason: str):
        super().__init__(number, reason)
        self.number, self.reason = number, reason


def read_table(files: ReleaseFiles, member: str, *, sep: str, kinds: list[str],
               header: list[str] | None = None,
               encoding: str = "utf-8") -> pd.DataFrame:
    """Read a delimited file into columns 0..n-1 of the given dtypes.

    `sep` is ``"\\t"``, ``"|"``, ``"::"`` or ``","`` (CSV with quoting);
    `header`, when given, must equal the file's first line. Every field must
    be present and parse as its dtype ("str" accepts anything).
    """
    if header is not None:
        _check_header(files, member, header, sep)
    n = len(kinds)
    if sep == "::":
        # The C parser takes one-character separators only: split on ":" and
        # keep every other column. The columns between must be empty. They
        # are read (as cheap categoricals) rather than skipped with usecols,
        # because with usecols pandas silently drops surplus fields. Titles,
        # which may hold ":", never go through here.
        positions = list(range(0, 2 * n - 1, 2))
        gaps = list(range(1, 2 * n - 1, 2))
        options = dict(sep=":", names=list(range(2 * n - 1)))
    else:
        positions, gaps = list(range(n)), []
        options = dict(sep=sep, names=positions)
    if sep != ",":
        options["quoting"] = csv.QUOTE_NONE
    dtype = dict(zip(positions, kinds)) | dict.fromkeys(gaps, "category")

    with files.open(member) as f:
        try:
            table = pd.read_csv(f, header=None, skiprows=1 if header else 0,
                                engine="c", dtype=dtype, na_filter=False,
                                encoding=encoding, **options)
            if any(np.isnan(table[p].to_numpy()).any()
                   for p, kind in dtype.items() if kind.startswith("float")):
                raise ValueError("a number is NaN")
            if any(set(table[p].cat.categories) - {""} for p in gaps):
                raise ValueError("a field contains a single ':'")
        except (ValueError, pd.errors.ParserError) as exc:
            raise _diagnose(files, member, sep, kinds, header, encoding, exc) from exc
    table = table[positions]
    table.columns = range(n)
    return table


def _check_header(files, member, header, sep) -> None:
    with files.open(member) as f:
        first = f.readline().decode("utf-8", errors="replace")
    found = first.lstrip("\ufeff").rstrip("\r\n").split(sep)
    if found != header:
        raise MalformedFileError(
            f"{files.describe(member)}, line 1: expected the header "
            f"{sep.join(header)!r}, found {first.rstrip()[:80]!r}; the file is "
            "not in this release's format"
        )


def _diagnose(files, member, sep, kinds, header, encoding, exc) -> MalformedFileError:
    """Find the first bad line after pandas failed, and build the error."""
    try:
        with files.open(member) as f:
            for number, fields in _rows(f, sep, encoding, skip=1 if header else 0):
                _check_fields(number, fields, kinds, sep)
    except _BadLine as bad:
        return MalformedFileError(f"{files.describe(member)}, line {bad.number}: "
                                  f"{bad.reason}")
    return MalformedFileError(f"cannot parse {files.describe(member)}: {exc}")


def _rows(stream, sep: str, encoding: str,
          skip: int) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) of the non-blank lines after the first `skip`."""
    def lines():
        for number, raw in enumerate(stream, 1):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as err:
                raise _BadLine(number, f"not valid {encoding} text "
                                       f"(byte {err.start} of the line)") from None
            if number > skip:
                yield number, text

    if sep == ",":
        numbered = lines()
        current = [0]

        def texts():
            for number, text in numbered:
                current[0] = number
                yield text
        try:
            for fields in csv.reader(texts(), strict=True):
                if fields:
                    yield current[0], fields
        except csv.Error as err:
            raise _BadLine(current[0], f"invalid CSV ({err})") from None
        return
    for number, text in lines():
        text = text.rstrip("\r\n")
        if text.strip():
            yield number, text.split(sep)


def _check_fields(number: int, fields: list[str], kinds: list[str], sep: str) -> None:
    if len(fields) != len(kinds):
        raise _BadLine(number, f"expected {len(kinds)} fields separated by {sep!r}, "
                               f"found {len(fields)}: {sep.join(fields)[:80]!r}")
    for column, (value, kind) in enumerate(zip(fields, kinds), 1):
        if kind == "str":
            continue
        try:
            number_value = int(value) if kind.startswith("int") else float(value)
        except ValueError:
            number_value = None
        if kind.startswith("int") and number_value is not None:
            info = np.iinfo(kind)
            if not info.min <= number_value <= info.max:
                number_value = None
        if number_value is None or not np.isfinite(number_value):
            raise _BadLine(number, f"field {column} is {value!r}, which is not a "
                                   f"valid {kind}")


def split_genres(genres: pd.Series) -> list[tuple[str, ...]]:
    """Split ``|``-separated genre lists; ``(no genres listed)`` gives ``()``."""
    return [tuple(g for g in text.split("|") if g and g != NO_GENRES)
            for text in genres.astype(str)]


def read_dat_movies(files: ReleaseFiles, member: str,
                    encoding: str | None) -> pd.DataFrame:
    """Parse ``MovieID::Title::Genres`` lines; `encoding` None tries UTF-8 first."""
    with files.open(member) as f:
        data = f.read()
    if encoding is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    else:
        text = data.decode(encoding)

    ids, titles, genres = [], [], []
    # Split on "\n" only: str.splitlines would also split at U+0085, which is
    # how latin-1 decodes byte 0x85.
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        parts = line.split("::")
        if len(parts) < 3 or not parts[0].isdigit():
            raise MalformedFileError(
                f"{files.describe(member)}, line {number}: expected "
                f"'MovieID::Title::Genres', found {line[:80]!r}")
        ids.append(int(parts[0]))
        titles.append("::".join(parts[1:-1]).strip())
        genres.append(parts[-1])
    return pd.DataFrame({
        "item_id": np.array(ids, dtype=np.int32),
        "title": pd.array(titles, dtype="str"),
        "release_date": pd.Series(pd.NaT, index=range(len(ids)),
                                  dtype="datetime64[us]"),
        "genres": split_genres(pd.Series(genres, dtype="str")),
    }).set_index("item_id")


def users_1m(files: ReleaseFiles, member: str) -> pd.DataFrame:
    """Parse ml-1m's ``UserID::Gender::Age::Occupation::Zip-code`` into names."""
    table = read_table(files, member, sep="::",
                       kinds=["int32", "str", "int16", "int8", "str"])
    table.columns = ["user_id", "gender", "age", "occupation", "zip"]
    bad_age = ~table["age"].isin(list(AGE_GROUPS_1M))
    bad_job = ~table["occupation"].between(0, len(OCCUPATIONS_1M) - 1)
    if bad_age.any() or bad_job.any():
        row = table[bad_age | bad_job].iloc[0]
        raise MalformedFileError(
            f"{files.describe(member)}: user {row.user_id} has age code {row.age} "
            f"and occupation code {row.occupation}; the ml-1m README defines ages "
            f"{sorted(AGE_GROUPS_1M)} and occupations 0-{len(OCCUPATIONS_1M) - 1}")
    return pd.DataFrame({
        "user_id": table["user_id"],
        "age": table["age"],  # lower bound of the age group
        "age_group": pd.Categorical(table["age"].map(AGE_GROUPS_1M),
                                    categories=list(AGE_GROUPS_1M.values()),
                                    ordered=True),
        "gender": table["gender"].astype("category"),
        "occupation": pd.Categorical.from_codes(table["occupation"], OCCUPATIONS_1M),
        "zip": table["zip"],
    }).set_index("user_id")
