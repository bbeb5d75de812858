"""MovieLens releases: download, checksum verification and parsing.

Each release is read from the official GroupLens archive
(https://files.grouplens.org/datasets/movielens/), verified against a pinned
sha256 before use. The data folder is chosen by the ``GENREC_DATA``
environment variable (see :func:`data_home`). That folder may also hold a
copy of the archive or its extracted files, which is how the book runs
without internet. A folder that holds extracted files is only read, never
written.

Reference for the data: F. M. Harper and J. A. Konstan, "The MovieLens
Datasets: History and Context", ACM TiiS 5(4), 2015.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import pandas as pd
import pooch

BASE_URL = "https://files.grouplens.org/datasets/movielens/"
ENV_VAR = "GENREC_DATA"


@dataclass(frozen=True)
class Release:
    """A MovieLens release: its archive checksum and pinned member checksums."""

    name: str
    sha256: str  # of the official <name>.zip
    size: int  # bytes of the official archive
    # sha256 of the extracted files that the parser reads, by member name.
    files: dict[str, str] = field(default_factory=dict)
    folder: str | None = None  # top folder inside the archive, if not `name`

    @property
    def url(self) -> str:
        return f"{BASE_URL}{self.name}.zip"

    @property
    def top(self) -> str:
        return self.folder or self.name


RELEASES: dict[str, Release] = {
    "ml-100k": Release(
        "ml-100k",
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        size=4_924_029,
        files={
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
        },
    ),
}


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
    """Read-only access to a release's files, from a folder or a verified zip."""

    def __init__(self, release: Release, *, folder: Path | None = None,
                 archive: Path | None = None):
        if (folder is None) == (archive is None):
            raise ValueError("pass exactly one of folder= or archive=")
        self.release = release
        self.folder = folder
        self.archive = archive
        if archive is not None:
            with zipfile.ZipFile(archive) as zf:
                self._members = {_check_member(n, archive): n for n in zf.namelist()}

    def __repr__(self) -> str:
        where = self.folder if self.folder is not None else self.archive
        return f"ReleaseFiles({self.release.name!r}, {str(where)!r})"

    def open(self, name: str) -> BinaryIO:
        """Open the release file `name` (for example ``"u.data"``) for reading."""
        if self.folder is not None:
            return open(self.folder / name, "rb")
        member = f"{self.release.top}/{name}"
        if member not in self._members:
            raise FileNotFoundError(f"{member} is missing from {self.archive}")
        with zipfile.ZipFile(self.archive) as zf:
            return io.BytesIO(zf.read(member))


def _check_member(name: str, archive: Path) -> str:
    """Reject archive member names that would point outside the release folder."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        raise ValueError(
            f"archive {archive} contains the unsafe member name {name!r}; "
            "it is not a genuine MovieLens archive, delete it and download again"
        )
    return name


def _verify_folder(release: Release, folder: Path) -> None:
    for name, expected in release.files.items():
        actual = sha256_of(folder / name)
        if actual != expected:
            raise ChecksumError(
                f"{folder / name} has sha256 {actual}, expected {expected}. "
                f"The file is corrupted or from another release: replace the "
                f"folder {folder} with the files of the official {release.name}.zip "
                f"({release.url}), or delete it so genrec downloads the archive."
            )


def fetch(name: str = "ml-100k", *, data_dir: Path | str | None = None,
          progressbar: bool = False) -> ReleaseFiles:
    """Locate, verify and if needed download a MovieLens release.

    Looks in `data_dir` (default :func:`data_home`) for, in order:

    1. the extracted folder ``<name>/``, each parsed file checked against its
       pinned sha256;
    2. the archive ``<name>.zip``, checked against the official sha256;
    3. otherwise downloads the archive there with pooch, which writes to a
       temporary file and keeps it only if its sha256 matches.

    Parameters
    ----------
    name : str, default "ml-100k"
        Release name, one of ``RELEASES``.
    data_dir : path, optional
        Folder to look in and download into.
    progressbar : bool, default False
        Show a download progress bar.

    Returns
    -------
    ReleaseFiles
        Read-only access to the release's files.

    Raises
    ------
    ChecksumError
        When an extracted file or the downloaded archive has the wrong sha256.
    """
    if name not in RELEASES:
        raise ValueError(f"unknown release {name!r}; choose one of {sorted(RELEASES)}")
    release = RELEASES[name]
    root = Path(data_dir).expanduser() if data_dir is not None else data_home()

    folder = root / release.top
    if folder.is_dir() and all((folder / f).is_file() for f in release.files):
        _verify_folder(release, folder)
        return ReleaseFiles(release, folder=folder)

    archive = root / f"{name}.zip"
    if archive.is_file() and sha256_of(archive) == release.sha256:
        return ReleaseFiles(release, archive=archive)
    return ReleaseFiles(release, archive=_download(release, root, progressbar))


def _download(release: Release, root: Path, progressbar: bool) -> Path:
    archive = root / f"{release.name}.zip"
    stale = ""
    if archive.is_file():
        stale = (f" The existing {archive} has sha256 {sha256_of(archive)}, "
                 f"expected {release.sha256}, so it was not used.")
    try:
        root.mkdir(parents=True, exist_ok=True)
        path = pooch.retrieve(
            release.url,
            known_hash=f"sha256:{release.sha256}",
            fname=archive.name,
            path=root,
            progressbar=progressbar,
        )
    except ValueError as exc:  # pooch raises ValueError on a hash mismatch
        raise ChecksumError(
            f"the download of {release.url} failed its checksum ({exc}). "
            "The partial file was discarded; try again later, or place the "
            f"official {archive.name} or its extracted files in {root}."
        ) from exc
    except OSError as exc:  # no network, or a read-only folder
        raise FileNotFoundError(
            f"{release.name} is not in {root} and could not be downloaded "
            f"from {release.url} ({exc}).{stale} Without internet, set "
            f"{ENV_VAR} to a folder that holds {archive.name} or its "
            f"extracted {release.top}/ files."
        ) from exc
    return Path(path)


@dataclass
class MovieLens:
    """A parsed MovieLens release.

    Attributes
    ----------
    ratings : DataFrame
        One row per rating: ``user_id`` (int32), ``item_id`` (int32),
        ``rating`` (float32) and ``timestamp`` (datetime64, UTC).
    movies : DataFrame
        Indexed by ``item_id``: ``title``, ``release_date`` (datetime64,
        NaT when unknown) and ``genres`` (tuple of genre names).
    users : DataFrame or None
        Indexed by ``user_id``, with the demographics the release has.
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
                   progressbar: bool = False) -> MovieLens:
    """Fetch and parse a MovieLens release into typed pandas frames.

    See :func:`fetch` for where the files come from.

    Defined in :doc:`/chapters/movie_example`.
    """
    files = fetch(name, data_dir=data_dir, progressbar=progressbar)
    if name == "ml-100k":
        return _parse_100k(files)
    raise NotImplementedError(f"no parser for {name!r}")  # pragma: no cover


def _read_table(files: ReleaseFiles, member: str, **kwargs) -> pd.DataFrame:
    """Read one delimited release file, naming the file in any parse error."""
    with files.open(member) as f:
        try:
            return pd.read_csv(f, header=None, engine="c", **kwargs)
        except (ValueError, pd.errors.ParserError) as exc:
            raise ValueError(f"cannot parse {member} of {files}: {exc}") from exc


def _parse_100k(files: ReleaseFiles) -> MovieLens:
    ratings = _read_table(
        files, "u.data", sep="\t", names=["user_id", "item_id", "rating", "timestamp"],
        dtype={"user_id": "int32", "item_id": "int32", "rating": "float32",
               "timestamp": "int64"},
    )
    ratings["timestamp"] = pd.to_datetime(ratings["timestamp"], unit="s", utc=True)

    # u.item: id | title | release date | video release date | IMDb URL | 19 flags.
    # The 19 genre names, in flag order, are those of the release's u.genre.
    genre_names = [
        "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
        "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
        "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ]
    columns = ["item_id", "title", "release_date", "video_release_date", "imdb_url"]
    items = _read_table(
        files, "u.item", sep="|", encoding="latin-1", names=columns + genre_names,
        dtype={"item_id": "int32", "title": "string", "release_date": "string"},
    )
    flags = items[genre_names].to_numpy(dtype=bool)
    movies = pd.DataFrame({
        "item_id": items["item_id"],
        "title": items["title"].str.strip(),
        "release_date": pd.to_datetime(items["release_date"], format="%d-%b-%Y"),
        "genres": [tuple(g for g, on in zip(genre_names, row) if on) for row in flags],
    }).set_index("item_id")

    users = _read_table(
        files, "u.user", sep="|", names=["user_id", "age", "gender", "occupation", "zip"],
        dtype={"user_id": "int32", "age": "int16", "gender": "category",
               "occupation": "category", "zip": "string"},
    ).set_index("user_id")
    return MovieLens(ratings=ratings, movies=movies, users=users, name="ml-100k")
