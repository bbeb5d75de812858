"""MovieLens releases: download, checksum verification and parsing.

Each release is read from the official GroupLens archive
(https://files.grouplens.org/datasets/movielens/) and verified against a
sha256 before use. genrec pins the checksum of ml-100k, ml-1m, ml-20m, ml-25m
and ml-latest-small. It reads ml-10m, ml-32m and ml-latest only when the
caller passes the archive's sha256. The data folder is chosen by the ``GENREC_DATA``
environment variable (see :func:`data_home`). That folder may also hold a
copy of the archive or its extracted files, which is how the book runs
without internet. A folder that holds extracted files is only read, never
written: genrec neither downloads into it nor deletes from it.

The archives come in three layouts, each parsed by :func:`read_release`:

- ``100k``: ``u.data`` (tab-separated), ``u.item`` and ``u.user``
  (``|``-separated, ISO-8859-1);
- ``dat`` (ml-1m, ml-10m): ``::``-separated ``ratings.dat``, ``movies.dat``
  and, in ml-1m only, ``users.dat``;
- ``csv`` (ml-20m and later): ``ratings.csv`` and ``movies.csv`` with a header
  row, UTF-8, and quoted titles that may hold commas and doubled quotes.

Reference for the data: F. M. Harper and J. A. Konstan, "The MovieLens
Datasets: History and Context", ACM TiiS 5(4), 2015.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import pandas as pd
import pooch

from ._formats import (GENRES_100K, MalformedFileError, read_dat_movies,
                       read_table, split_genres, users_1m)

BASE_URL = "https://files.grouplens.org/datasets/movielens/"
ENV_VAR = "GENREC_DATA"
RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
RATING_DTYPES = ["int32", "int32", "float32", "int64"]

__all__ = ["RELEASES", "ChecksumError", "MalformedFileError", "MovieLens",
           "Release", "ReleaseFiles", "data_home", "fetch", "load_movielens",
           "read_release", "sha256_of"]


@dataclass(frozen=True)
class Release:
    """A MovieLens release: where it is, its checksums and its file layout."""

    name: str
    sha256: str | None  # of the official <name>.zip; None: the caller passes it
    size: int | None  # bytes of the official archive, where known
    layout: str  # "100k", "dat" or "csv"
    # sha256 of extracted files that the parser reads, by member name.
    files: dict[str, str] = field(default_factory=dict)
    folder: str | None = None  # top folder inside the archive, if not `name`
    encoding: str | None = "utf-8"  # of movie titles; None: UTF-8, else latin-1
    rating_scale: tuple[float, float, float] = (0.5, 5.0, 0.5)  # low, high, step
    has_users: bool = False  # the release has a users file with demographics

    @property
    def url(self) -> str:
        return f"{BASE_URL}{self.name}.zip"

    @property
    def top(self) -> str:
        return self.folder or self.name

    @property
    def members(self) -> tuple[str, ...]:
        """Files the parser reads, relative to the release folder."""
        if self.layout == "100k":
            return ("u.data", "u.item", "u.user")
        if self.layout == "dat":
            users = ("users.dat",) if self.has_users else ()
            return ("ratings.dat", "movies.dat", *users)
        return ("ratings.csv", "movies.csv")


RELEASES: dict[str, Release] = {
    "ml-100k": Release(
        "ml-100k", layout="100k", has_users=True, rating_scale=(1.0, 5.0, 1.0),
        encoding="latin-1",
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        size=4_924_029,
        files={
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
        },
    ),
    "ml-1m": Release(
        "ml-1m", layout="dat", has_users=True, rating_scale=(1.0, 5.0, 1.0),
        encoding="latin-1",
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        size=5_917_549,
        files={
            # NOTE: the ratings.dat value is the one several public projects
            # state for the official archive. It is unchecked here, because
            # genrec's authors had no copy of the file.
            "ratings.dat": "506d64ca44484487c11dc2d9a28de5c54948213e6b96285e298afe28d6ea4e0f",
            "movies.dat": "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9",
            "users.dat": "1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3",
        },
    ),
    # NOTE: the encoding of ml-10m's movies.dat is not pinned here, so titles
    # are decoded as UTF-8 when they are valid UTF-8 and as latin-1 otherwise.
    "ml-10m": Release("ml-10m", None, None, layout="dat", folder="ml-10M100K",
                      encoding=None),
    "ml-20m": Release(
        "ml-20m", layout="csv", size=198_702_078,
        sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
    ),
    "ml-25m": Release(
        "ml-25m", layout="csv", size=261_978_986,
        sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
    ),
    "ml-32m": Release("ml-32m", None, None, layout="csv"),
    "ml-latest-small": Release(
        "ml-latest-small", layout="csv", size=978_202,
        sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        files={
            "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
            "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        },
    ),
    "ml-latest": Release("ml-latest", None, None, layout="csv"),
}

# Folders that mark a data folder as holding extracted files.
_EXTRACTED_NAMES = {r.top for r in RELEASES.values()} | {
    "diffrec-ml-1m-clean", "diffrec-ml-1m-noisy"}


class ChecksumError(ValueError):
    """A file's sha256 does not match its pinned value."""


def data_home() -> Path:
    """Return the folder genrec reads MovieLens archives from and caches them in.

    The ``GENREC_DATA`` environment variable wins. Without it, a source
    checkout of the book uses its own ``data/`` folder and an installed
    package uses the user's cache folder (``pooch.os_cache("genrec")``).
    """
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "_config.yml").is_file():
        return checkout / "data"
    return Path(pooch.os_cache("genrec"))


def sha256_of(path: Path | str) -> str:
    """Return the hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ReleaseFiles:
    """Read-only access to a release's files, from a folder or a verified zip.

    Nothing is extracted to disk: files inside an archive are streamed from
    it. An archive with a member name that would land outside the release
    folder (an absolute path, ``..``, a backslash or a drive letter) is
    rejected when the object is created.
    """

    def __init__(self, release: Release, *, folder: Path | None = None,
                 archive: Path | None = None):
        if (folder is None) == (archive is None):
            raise ValueError("pass exactly one of folder= or archive=")
        self.release = release
        self.folder = Path(folder) if folder is not None else None
        self.archive = Path(archive) if archive is not None else None
        if self.archive is not None:
            with zipfile.ZipFile(self.archive) as zf:
                self._members = {_check_member(n, self.archive) for n in zf.namelist()}

    def __repr__(self) -> str:
        where = self.folder if self.folder is not None else self.archive
        return f"ReleaseFiles({self.release.name!r}, {str(where)!r})"

    def describe(self, name: str) -> str:
        """Name the release file `name` for messages: a path, or a member of a zip."""
        if self.folder is not None:
            return str(self.folder / name)
        return f"{self.release.top}/{name} in {self.archive}"

    def open(self, name: str) -> BinaryIO:
        """Open the release file `name` (for example ``"u.data"``) for reading."""
        if self.folder is not None:
            return open(self.folder / name, "rb")
        member = f"{self.release.top}/{name}"
        if member not in self._members:
            raise FileNotFoundError(f"{member} is missing from {self.archive}")
        # The member stream keeps the archive file open after `zf` is closed.
        with zipfile.ZipFile(self.archive) as zf:
            return zf.open(member)


def _check_member(name: str, archive: Path) -> str:
    """Reject archive member names that would point outside the release folder."""
    path = PurePosixPath(name)
    drive = bool(path.parts) and path.parts[0].endswith(":")
    if path.is_absolute() or ".." in path.parts or "\\" in name or drive:
        raise ValueError(
            f"archive {archive} contains the unsafe member name {name!r}; "
            "it is not a genuine MovieLens archive, delete it and download again"
        )
    return name


def _resolve(name: str, sha256: str | None) -> Release:
    """Look up a release and settle which archive checksum it is held to."""
    if name not in RELEASES:
        raise ValueError(f"unknown release {name!r}; choose one of {sorted(RELEASES)}")
    release = RELEASES[name]
    if sha256 is not None:
        sha256 = sha256.lower().removeprefix("sha256:")
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    if release.sha256 is None:
        if sha256 is None:
            raise ValueError(
                f"genrec has no pinned checksum for {name}: pass sha256= with the "
                f"sha256 of the official {name}.zip ({release.url}), which you "
                "can compute with `sha256sum` on a copy you trust"
            )
        return dataclasses.replace(release, sha256=sha256)
    if sha256 is not None and sha256 != release.sha256:
        raise ValueError(
            f"sha256={sha256} differs from the pinned checksum of {name} "
            f"({release.sha256}); leave sha256 unset for a pinned release"
        )
    return release


def _verify_folder(release: Release, folder: Path) -> None:
    for name in release.members:
        expected = release.files.get(name)
        if expected is None:
            continue
        actual = sha256_of(folder / name)
        if actual != expected:
            raise ChecksumError(
                f"{folder / name} has sha256 {actual}, expected {expected}. "
                f"The file is corrupted or from another release: replace the "
                f"folder {folder} with the files of the official {release.name}.zip "
                f"({release.url}), or delete it so genrec downloads the archive."
            )


def fetch(name: str = "ml-100k", *, data_dir: Path | str | None = None,
          sha256: str | None = None, progressbar: bool = False) -> ReleaseFiles:
    """Locate, verify and if needed download a MovieLens release.

    Looks in `data_dir` (default :func:`data_home`) for, in order:

    1. the extracted folder (``<name>/``, ``ml-10M100K/`` for ml-10m) when
       genrec pins the sha256 of every file it parses there; each is checked;
    2. the archive ``<name>.zip``, checked against the archive's sha256;
    3. the extracted folder of a release without per-file pins, read with a
       warning that its files could not be verified;
    4. otherwise it downloads the archive there with pooch, which keeps the
       download only if its sha256 matches. A cached archive that fails its
       checksum (a truncated download, an HTML error page) is deleted and
       downloaded once more. A fresh download that fails is retried once.
       Downloads never go into a folder that holds extracted releases.

    Parameters
    ----------
    name : str, default "ml-100k"
        Release name, one of ``RELEASES``.
    data_dir : path, optional
        Folder to look in and download into.
    sha256 : str, optional
        sha256 of the official archive. Required for ml-10m, ml-32m and
        ml-latest, whose checksum genrec does not pin; for the other releases
        it must be left unset or equal the pinned value.
    progressbar : bool, default False
        Show a download progress bar.

    Returns
    -------
    ReleaseFiles
        Read-only access to the release's files.

    Raises
    ------
    ChecksumError
        When an extracted file has the wrong sha256, or the download still
        fails its checksum after the retry.
    FileNotFoundError
        When the release is missing and cannot be downloaded.

    Defined in :doc:`/chapters/data`.
    """
    release = _resolve(name, sha256)
    root = Path(data_dir).expanduser() if data_dir is not None else data_home()

    folder = root / release.top
    missing = [m for m in release.members if not (folder / m).is_file()]
    pinned = all(m in release.files for m in release.members)
    if folder.is_dir() and not missing and pinned:
        _verify_folder(release, folder)
        return ReleaseFiles(release, folder=folder)

    archive = root / f"{name}.zip"
    if archive.is_file() and _archive_matches(release, archive):
        return ReleaseFiles(release, archive=archive)
    if folder.is_dir() and not missing:
        warnings.warn(
            f"reading {folder} without verifying it: genrec has checksums for "
            f"the {name}.zip archive only. Place {name}.zip in {root} to have "
            "the data verified.", stacklevel=2)
        return ReleaseFiles(release, folder=folder)

    holding = sorted(p.name for p in root.glob("*") if p.name in _EXTRACTED_NAMES)
    if holding:
        incomplete = (f" {folder} lacks {', '.join(missing)}." if folder.is_dir()
                      else "")
        if archive.is_file():
            incomplete += f" {archive} fails its checksum."
        raise FileNotFoundError(
            f"{name} is not in {root}, and genrec does not download into a folder "
            f"that holds extracted releases ({', '.join(holding)}).{incomplete} Put "
            f"the official {name}.zip or its extracted {release.top}/ folder there, "
            f"or pass data_dir= (or set {ENV_VAR} to) a folder genrec may write to."
        )
    return ReleaseFiles(release, archive=_download(release, root, progressbar))


def _archive_matches(release: Release, archive: Path) -> bool:
    if release.size is not None and archive.stat().st_size != release.size:
        return False  # cheaper than hashing a truncated file
    return sha256_of(archive) == release.sha256


def _download(release: Release, root: Path, progressbar: bool) -> Path:
    """Download the archive into `root`: one retry in all after a failed checksum."""
    archive = root / f"{release.name}.zip"
    attempts = 2
    stale = ""
    if archive.is_file():  # fetch() found that it fails its checksum
        stale = (f" The cached {archive} ({archive.stat().st_size:,} bytes) failed "
                 "its checksum, so it was deleted and downloaded again.")
        archive.unlink()
        attempts = 1
    root.mkdir(parents=True, exist_ok=True)
    errors = []
    for _ in range(attempts):
        try:
            path = pooch.retrieve(
                release.url, known_hash=f"sha256:{release.sha256}",
                fname=archive.name, path=root, progressbar=progressbar,
            )
        except ValueError as exc:  # pooch raises ValueError on a hash mismatch
            errors.append(str(exc))
            continue
        except OSError as exc:  # no network, or a read-only folder
            raise FileNotFoundError(
                f"{release.name} is not in {root} and could not be downloaded "
                f"from {release.url} ({exc}).{stale} Without internet, set "
                f"{ENV_VAR} to a folder that holds {archive.name} or its "
                f"extracted {release.top}/ files."
            ) from exc
        return Path(path)
    size = f" of {release.size:,} bytes" if release.size else ""
    raise ChecksumError(
        f"the download of {release.url} failed its sha256 check "
        f"{len(errors)} time(s) ({errors[-1]}).{stale} The server sent something "
        f"other than the official archive{size}, such as an error page or a "
        "truncated file; nothing was kept. Try again later, or place the official "
        f"{archive.name} or its extracted {release.top}/ files in {root}."
    )


@dataclass
class MovieLens:
    """A parsed MovieLens release.

    Attributes
    ----------
    ratings : DataFrame
        One row per rating, in file order: ``user_id`` (int32), ``item_id``
        (int32), ``rating`` (float32) and ``timestamp`` (datetime64, UTC).
    movies : DataFrame
        Indexed by ``item_id``: ``title`` (as in the release, trimmed),
        ``release_date`` (datetime64, NaT when unknown, and only ml-100k has
        dates) and ``genres`` (tuple of genre names, empty when the release
        lists none).
    users : DataFrame or None
        Indexed by ``user_id``, with the demographics the release has
        (ml-100k and ml-1m); None for the other releases.
    name : str
        The release name.
    """

    ratings: pd.DataFrame
    movies: pd.DataFrame
    users: pd.DataFrame | None
    name: str

    def __repr__(self) -> str:
        return (f"MovieLens({self.name!r}: {len(self.ratings):,} ratings, "
                f"{self.ratings.user_id.nunique():,} users, "
                f"{len(self.movies):,} movies)")


def load_movielens(name: str = "ml-100k", *, data_dir: Path | str | None = None,
                   sha256: str | None = None, progressbar: bool = False) -> MovieLens:
    """Fetch and parse a MovieLens release into typed pandas frames.

    See :func:`fetch` for where the files come from and :func:`read_release`
    for the parsing.

    Defined in :doc:`/chapters/data`.
    """
    return read_release(fetch(name, data_dir=data_dir, sha256=sha256,
                              progressbar=progressbar))


def read_release(files: ReleaseFiles) -> MovieLens:
    """Parse the ratings, movies and users of a release.

    Parameters
    ----------
    files : ReleaseFiles
        From :func:`fetch`, or built directly on a folder in the official
        layout (in which case nothing is verified).

    Returns
    -------
    MovieLens

    Raises
    ------
    MalformedFileError
        When a row cannot be parsed; the message names the file and line.

    Defined in :doc:`/chapters/data`.
    """
    layout = files.release.layout
    if layout == "100k":
        return _parse_100k(files)
    if layout == "dat":
        return _parse_dat(files)
    if layout == "csv":
        return _parse_csv(files)
    raise ValueError(f"unknown layout {layout!r} of {files.release.name}")


def _ratings_frame(table: pd.DataFrame) -> pd.DataFrame:
    table.columns = RATING_COLUMNS
    table["timestamp"] = pd.to_datetime(table["timestamp"], unit="s", utc=True)
    return table


def _parse_100k(files: ReleaseFiles) -> MovieLens:
    ratings = _ratings_frame(read_table(files, "u.data", sep="\t", kinds=RATING_DTYPES))

    # u.item: id | title | release date | video release date | IMDb URL | 19 flags.
    items = read_table(files, "u.item", sep="|", encoding="latin-1",
                       kinds=["int32", "str", "str", "str", "str"] + ["int8"] * 19)
    flags = items.iloc[:, 5:].to_numpy(dtype=bool)
    # "unknown" is the release's flag for a movie without genres, not a genre.
    genres = [tuple(g for g, on in zip(GENRES_100K, row) if on and g != "unknown")
              for row in flags]
    movies = pd.DataFrame({
        "item_id": items.iloc[:, 0],
        "title": items.iloc[:, 1].str.strip(),
        "release_date": pd.to_datetime(items.iloc[:, 2].where(items.iloc[:, 2] != ""),
                                       format="%d-%b-%Y").astype("datetime64[us]"),
        "genres": genres,
    }).set_index("item_id")

    users = read_table(files, "u.user", sep="|",
                       kinds=["int32", "int16", "str", "str", "str"])
    users.columns = ["user_id", "age", "gender", "occupation", "zip"]
    users = users.astype({"gender": "category", "occupation": "category"})
    return MovieLens(ratings, movies, users.set_index("user_id"), files.release.name)


def _parse_dat(files: ReleaseFiles) -> MovieLens:
    ratings = _ratings_frame(read_table(files, "ratings.dat", sep="::",
                                        kinds=RATING_DTYPES))
    movies = read_dat_movies(files, "movies.dat", files.release.encoding)
    users = users_1m(files, "users.dat") if files.release.has_users else None
    return MovieLens(ratings, movies, users, files.release.name)


def _parse_csv(files: ReleaseFiles) -> MovieLens:
    ratings = _ratings_frame(read_table(
        files, "ratings.csv", sep=",", kinds=RATING_DTYPES,
        header=["userId", "movieId", "rating", "timestamp"]))
    table = read_table(files, "movies.csv", sep=",", kinds=["int32", "str", "str"],
                       header=["movieId", "title", "genres"])
    movies = pd.DataFrame({
        "item_id": table.iloc[:, 0],
        "title": table.iloc[:, 1].str.strip(),
        "release_date": pd.Series(pd.NaT, index=table.index, dtype="datetime64[us]"),
        "genres": split_genres(table.iloc[:, 2]),
    }).set_index("item_id")
    return MovieLens(ratings, movies, None, files.release.name)
