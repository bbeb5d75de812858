"""Tests of genrec.datasets: parsers, checksums, downloads and unsafe archives.

Every release is tested on small files written here in its official layout;
a loopback HTTP server started by the tests plays files.grouplens.org.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genrec import datasets
from genrec.datasets import (RELEASES, ChecksumError, MalformedFileError,
                             ReleaseFiles, fetch, load_movielens, read_release)

# Official-layout contents, a few rows each. Bytes, because encodings matter.
FILES_100K = {
    "u.data": b"1\t10\t4\t881250949\n2\t10\t5\t891717742\n1\t20\t1\t878887116\n",
    "u.item": (b"10|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0"
               b"|0|0|0|0|0|0\n"
               b"20|\xc1 k\xf6ldum klaka (Cold Fever) (1994)|||http://y|1|0|0|0|0|0|0"
               b"|0|0|0|0|0|0|0|0|0|0|0|0\n"),
    "u.user": b"1|24|M|technician|85711\n2|53|F|other|94043\n",
}
FILES_1M = {
    "ratings.dat": b"1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n",
    "movies.dat": (b"1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
                   b"661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
                   b"73::Mis\xe9rables, Les (1995)::Drama|Musical\n"
                   b"260::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi\n"),
    "users.dat": b"1::F::1::10::48067\n2::M::56::16::70072\n",
}
FILES_10M = {
    "ratings.dat": b"1::122::5::838985046\n1::185::4.5::838983525\n2::122::0.5::868245777\n",
    "movies.dat": ("122::Boomerang (1992)::Comedy|Romance\n"
                   "185::Net, The (1995)::Action|Crime|Thriller\n"
                   "65130::Revolutionary Road (2008)::(no genres listed)\n"
                   "7::Caf\u00e9 au lait (1993)::Comedy\n").encode("utf-8"),
}
FILES_CSV = {
    "ratings.csv": (b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n"
                    b"1,3,3.5,964981247\r\n2,11,0.5,1445714835\r\n"),
    "movies.csv": ('movieId,title,genres\r\n'
                   '1,Toy Story (1995),Adventure|Animation|Children\r\n'
                   '3,"American President, The (1995)",Comedy|Drama|Romance\r\n'
                   '11,"""Great Performances"" Cats (1998)",Musical\r\n'
                   '12,Babylon 5 ,(no genres listed)\r\n'
                   '13,Caf\u00e9 (2010),Drama\r\n').encode("utf-8"),
}
CSV_RELEASES = ["ml-20m", "ml-25m", "ml-32m", "ml-latest", "ml-latest-small"]


def write_folder(root: Path, top: str, files: dict[str, bytes]) -> Path:
    folder = root / top
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def write_zip(path: Path, top: str, files: dict[str, bytes]) -> str:
    """Write an archive in the official layout and return its sha256."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(f"{top}/{name}", data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_folder(tmp_path: Path, name: str, files: dict[str, bytes]):
    release = RELEASES[name]
    folder = write_folder(tmp_path, release.top, files)
    return read_release(ReleaseFiles(release, folder=folder))


# --- parsers ---------------------------------------------------------------


@pytest.mark.filterwarnings("error")
def test_parse_100k_latin1_and_no_unknown_genre(tmp_path):
    ml = parse_folder(tmp_path, "ml-100k", FILES_100K)
    assert ml.ratings.dtypes.astype(str).tolist()[:3] == ["int32", "int32", "float32"]
    assert str(ml.ratings["timestamp"].dt.tz) == "UTC"
    assert ml.movies.loc[20, "title"] == "\u00c1 k\u00f6ldum klaka (Cold Fever) (1994)"
    # Item 10 has Animation, Children's and Comedy flags (positions 3-5).
    assert ml.movies.loc[10, "genres"] == ("Animation", "Children's", "Comedy")
    # Item 20 has only the "unknown" flag, which is not a genre.
    assert ml.movies.loc[20, "genres"] == ()
    assert pd.isna(ml.movies.loc[20, "release_date"])
    assert ml.users.loc[2, "age"] == 53


@pytest.mark.filterwarnings("error")
def test_parse_1m_double_colon_latin1_users(tmp_path):
    ml = parse_folder(tmp_path, "ml-1m", FILES_1M)
    assert len(ml.ratings) == 3
    assert ml.ratings["rating"].tolist() == [5.0, 3.0, 4.0]
    assert ml.movies.loc[73, "title"] == "Mis\u00e9rables, Les (1995)"
    assert ml.movies.loc[260, "title"] == "Star Wars: Episode IV - A New Hope (1977)"
    assert ml.movies.loc[661, "genres"] == ("Animation", "Children's", "Musical")
    assert ml.users.loc[1, "age_group"] == "Under 18"
    assert ml.users.loc[1, "occupation"] == "K-12 student"
    assert ml.users.loc[2, "occupation"] == "self-employed"


def test_parse_1m_rejects_undefined_age_code(tmp_path):
    files = dict(FILES_1M, **{"users.dat": b"1::F::7::10::48067\n"})
    with pytest.raises(MalformedFileError, match="user 1 has age code 7"):
        parse_folder(tmp_path, "ml-1m", files)


@pytest.mark.filterwarnings("error")
def test_load_10m_from_zip_with_caller_checksum(tmp_path):
    # The archive is ml-10m.zip but its folder is ml-10M100K.
    sha = write_zip(tmp_path / "ml-10m.zip", "ml-10M100K", FILES_10M)
    ml = load_movielens("ml-10m", data_dir=tmp_path, sha256=sha)
    assert ml.ratings["rating"].tolist() == [5.0, 4.5, 0.5]
    assert ml.movies.loc[65130, "genres"] == ()
    assert ml.movies.loc[7, "title"] == "Caf\u00e9 au lait (1993)"
    assert ml.users is None


def test_parse_10m_latin1_fallback(tmp_path):
    files = dict(FILES_10M, **{"movies.dat": b"7::Caf\xe9 au lait (1993)::Comedy\n"})
    ml = parse_folder(tmp_path, "ml-10m", files)
    assert ml.movies.loc[7, "title"] == "Caf\u00e9 au lait (1993)"


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name", CSV_RELEASES)
def test_parse_csv_quoting_half_stars_no_genres(tmp_path, name):
    ml = parse_folder(tmp_path, name, FILES_CSV)
    assert ml.ratings["rating"].tolist() == [4.0, 3.5, 0.5]
    first = pd.Timestamp(964982703, unit="s", tz="UTC")
    assert ml.ratings["timestamp"].iloc[0] == first
    assert ml.movies.loc[3, "title"] == "American President, The (1995)"
    assert ml.movies.loc[11, "title"] == '"Great Performances" Cats (1998)'
    assert ml.movies.loc[12, "title"] == "Babylon 5"  # trailing space trimmed
    assert ml.movies.loc[12, "genres"] == ()
    assert ml.movies.loc[13, "title"] == "Caf\u00e9 (2010)"
    assert ml.movies["release_date"].isna().all()


def test_parse_csv_from_zip_streams_members(tmp_path):
    sha = write_zip(tmp_path / "ml-32m.zip", "ml-32m", FILES_CSV)
    ml = load_movielens("ml-32m", data_dir=tmp_path, sha256=f"sha256:{sha.upper()}")
    assert len(ml.ratings) == 3
    assert len(ml.movies) == 5


# --- malformed rows ----------------------------------------------------------

MALFORMED = [
    # (release, file, contents, expected message)
    ("ml-100k", "u.data", b"1\t10\t4\t881250949\n2\t10\t5\n",
     r"u.data, line 2: expected 4 fields separated by '\\t', found 3"),
    ("ml-100k", "u.data", b"1\t10\t4\t881250949\n\n1\tx\t4\t8\n",
     r"u.data, line 3: field 2 is 'x'"),
    ("ml-1m", "ratings.dat", b"1::1193::5::978300760\n1::661::3\n",
     r"ratings.dat, line 2: expected 4 fields"),
    ("ml-1m", "ratings.dat", b"1::1193::5::978300760\n1::661::3::9::9\n",
     r"ratings.dat, line 2: expected 4 fields"),
    ("ml-1m", "movies.dat", b"1193::One Flew (1975)::Drama\nbroken line\n",
     r"movies.dat, line 2: expected 'MovieID::Title::Genres'"),
    ("ml-20m", "ratings.csv", b"userId,movieId,rating,timestamp\n1,1,4.0,9\n1,2,,9\n",
     r"ratings.csv, line 3: field 3 is '', which is not a valid float32"),
    ("ml-20m", "ratings.csv", b"userId,movieId,rating,timestamp\n1,1,nan,9\n",
     r"ratings.csv, line 2: field 3 is 'nan'"),
    ("ml-20m", "ratings.csv",
     b"userId,movieId,rating,timestamp\n1,1,4.0,9\n1,99999999999,4.0,9\n",
     r"ratings.csv, line 3: field 2 is '99999999999', which is not a valid int32"),
    ("ml-25m", "ratings.csv", b"user,movie,rating,time\n1,1,4.0,9\n",
     r"ratings.csv, line 1: expected the header"),
    ("ml-25m", "movies.csv",
     b'movieId,title,genres\n1,Toy Story (1995),Comedy\n2,"Open,Drama\n',
     r"movies.csv, line 3: invalid CSV"),
    ("ml-25m", "movies.csv",
     b"movieId,title,genres\n1,Toy Story (1995),Comedy\n2,Caf\xe9,Drama\n",
     r"movies.csv, line 3: not valid utf-8 text"),
]


@pytest.mark.parametrize("name, member, contents, message", MALFORMED)
def test_malformed_row_names_file_and_line(tmp_path, name, member, contents, message):
    base = {"ml-100k": FILES_100K, "ml-1m": FILES_1M}.get(name, FILES_CSV)
    with pytest.raises(MalformedFileError, match=message):
        parse_folder(tmp_path, name, dict(base, **{member: contents}))


# --- releases, folders and checksums ------------------------------------------


def test_release_table_pins_official_archives():
    assert RELEASES["ml-1m"].size == 5_917_549
    assert RELEASES["ml-20m"].sha256.startswith("96f243c3")
    assert RELEASES["ml-25m"].size == 261_978_986
    assert RELEASES["ml-10m"].top == "ml-10M100K"
    for name in ("ml-10m", "ml-32m", "ml-latest"):
        assert RELEASES[name].sha256 is None


@pytest.mark.parametrize("name, kwargs, message", [
    ("ml-5m", {}, "unknown release 'ml-5m'"),
    ("ml-32m", {}, "no pinned checksum for ml-32m: pass sha256="),
    ("ml-100k", {"sha256": "0" * 64}, "differs from the pinned checksum"),
    ("ml-32m", {"sha256": "abc"}, "sha256 must be 64 hex digits"),
])
def test_fetch_rejects_bad_arguments(tmp_path, name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fetch(name, data_dir=tmp_path, **kwargs)


def test_fetch_checks_pinned_folder_files(tmp_path):
    write_folder(tmp_path, "ml-100k", FILES_100K)
    with pytest.raises(ChecksumError, match=r"u.data has sha256 .*expected 06416e59"):
        fetch("ml-100k", data_dir=tmp_path)


def test_fetch_warns_on_unverifiable_folder(tmp_path):
    write_folder(tmp_path, "ml-20m", FILES_CSV)
    with pytest.warns(UserWarning, match="without verifying it"):
        files = fetch("ml-20m", data_dir=tmp_path)
    assert files.folder == tmp_path / "ml-20m"


@pytest.mark.filterwarnings("error")
def test_fetch_prefers_verified_archive_to_folder(tmp_path):
    write_folder(tmp_path, "ml-32m", FILES_CSV)
    sha = write_zip(tmp_path / "ml-32m.zip", "ml-32m", FILES_CSV)
    files = fetch("ml-32m", data_dir=tmp_path, sha256=sha)
    assert files.archive == tmp_path / "ml-32m.zip"


def test_fetch_never_writes_into_folder_with_extracted_files(tmp_path, monkeypatch):
    # ml-1m/ lacks ratings.dat, as in a partial offline copy.
    write_folder(tmp_path, "ml-1m", {k: v for k, v in FILES_1M.items()
                                      if k != "ratings.dat"})
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    monkeypatch.setattr(datasets.pooch, "retrieve", pytest.fail)
    with pytest.raises(FileNotFoundError, match=r"lacks ratings.dat"):
        fetch("ml-1m", data_dir=tmp_path)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_data_home_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_DATA", str(tmp_path))
    assert datasets.data_home() == tmp_path


# --- downloads from a loopback server ----------------------------------------


class Server:
    """Serve a fixed sequence of response bodies on 127.0.0.1, counting requests."""

    def __init__(self, bodies: list[bytes]):
        self.bodies, self.requests = list(bodies), 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = server.bodies[min(server.requests, len(server.bodies) - 1)]
                server.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


HTML = b"<html><body>503 Service Unavailable</body></html>"


@pytest.fixture
def archive(tmp_path):
    """A small valid ml-32m archive (its bytes and sha256), kept outside data_dir."""
    path = tmp_path / "origin.zip"
    sha = write_zip(path, "ml-32m", FILES_CSV)
    return path.read_bytes(), sha


@pytest.fixture
def serve(monkeypatch):
    servers = []

    def start(*bodies):
        servers.append(Server(list(bodies)))
        monkeypatch.setattr(datasets, "BASE_URL", servers[-1].url)
        return servers[-1]
    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("first", ["html", "truncated"])
def test_download_retries_once_then_succeeds(tmp_path, archive, serve, first):
    good, sha = archive
    bad = HTML if first == "html" else good[: len(good) // 2]
    server = serve(bad, good)
    data_dir = tmp_path / "cache"
    ml = load_movielens("ml-32m", data_dir=data_dir, sha256=sha)
    assert server.requests == 2
    assert len(ml.ratings) == 3
    assert [p.name for p in data_dir.iterdir()] == ["ml-32m.zip"]


@pytest.mark.parametrize("first", ["html", "truncated"])
def test_bad_cached_archive_is_replaced(tmp_path, archive, serve, first):
    good, sha = archive
    data_dir = tmp_path / "cache"
    data_dir.mkdir()
    (data_dir / "ml-32m.zip").write_bytes(HTML if first == "html" else good[:100])
    server = serve(good)
    files = fetch("ml-32m", data_dir=data_dir, sha256=sha)
    assert server.requests == 1
    assert datasets.sha256_of(files.archive) == sha


def test_download_gives_up_after_one_retry(tmp_path, archive, serve):
    _, sha = archive
    server = serve(HTML)
    data_dir = tmp_path / "cache"
    with pytest.raises(ChecksumError, match=r"failed its sha256 check 2 time\(s\)"):
        fetch("ml-32m", data_dir=data_dir, sha256=sha)
    assert server.requests == 2
    assert list(data_dir.iterdir()) == []  # nothing kept


def test_bad_cached_archive_is_fetched_again_only_once(tmp_path, archive, serve):
    good, sha = archive
    data_dir = tmp_path / "cache"
    data_dir.mkdir()
    (data_dir / "ml-32m.zip").write_bytes(good[:100])
    server = serve(HTML)
    with pytest.raises(ChecksumError, match="failed its checksum, so it was deleted"):
        fetch("ml-32m", data_dir=data_dir, sha256=sha)
    assert server.requests == 1
    assert list(data_dir.iterdir()) == []


def test_download_without_server_is_file_not_found(tmp_path, archive, serve):
    _, sha = archive
    serve(HTML).close()  # nothing listens on the port any more
    with pytest.raises(FileNotFoundError, match="could not be downloaded"):
        fetch("ml-32m", data_dir=tmp_path / "cache", sha256=sha)


# --- unsafe archives -----------------------------------------------------------


@pytest.mark.parametrize("member", ["../evil.csv", "/etc/evil.csv",
                                    "ml-32m/../../evil.csv", "ml-32m\\..\\evil.csv",
                                    "C:/evil.csv"])
def test_archive_member_escaping_folder_is_rejected(tmp_path, member):
    path = tmp_path / "ml-32m.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-32m/ratings.csv", FILES_CSV["ratings.csv"])
        zf.writestr(member, b"x")
    with pytest.raises(ValueError, match="unsafe member name"):
        ReleaseFiles(RELEASES["ml-32m"], archive=path)


def test_release_files_needs_one_source_and_existing_member(tmp_path):
    with pytest.raises(ValueError, match="exactly one of folder= or archive="):
        ReleaseFiles(RELEASES["ml-32m"])
    path = tmp_path / "ml-32m.zip"
    write_zip(path, "ml-32m", {"ratings.csv": FILES_CSV["ratings.csv"]})
    with pytest.raises(FileNotFoundError, match="ml-32m/movies.csv is missing"):
        ReleaseFiles(RELEASES["ml-32m"], archive=path).open("movies.csv")


# --- the real releases, where GENREC_DATA provides them --------------------------


def _real(name: str) -> Path:
    root = os.environ.get("GENREC_DATA")
    if not root or not (Path(root) / RELEASES[name].top).is_dir():
        pytest.skip(f"{name} is not in GENREC_DATA")
    return Path(root)


@pytest.mark.filterwarnings("error")
def test_real_100k_counts():
    ml = load_movielens("ml-100k", data_dir=_real("ml-100k"))
    assert (len(ml.ratings), ml.ratings.user_id.nunique(), len(ml.movies)) == (
        100_000, 943, 1_682)
    assert ml.movies.loc[1633, "title"].startswith("\u00c1 k\u00f6ldum klaka")


@pytest.mark.filterwarnings("error")
def test_real_latest_small_counts():
    ml = load_movielens("ml-latest-small", data_dir=_real("ml-latest-small"))
    assert (len(ml.ratings), ml.ratings.user_id.nunique(), len(ml.movies)) == (
        100_836, 610, 9_742)
    assert ml.ratings.item_id.nunique() == 9_724
    assert set(np.unique(ml.ratings["rating"])) == {x / 2 for x in range(1, 11)}
