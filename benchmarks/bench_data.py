"""Time and memory of genrec's data pipeline on a synthetic ML-20M-sized release.

Writes a synthetic ``ratings.csv`` and ``movies.csv`` in the ml-20m layout
to a temporary folder (deleted afterwards; nothing lands in the repository),
then runs, in a fresh Python process, each step the book applies to real
data, and records its wall time and peak resident memory:

1. parse: ``load_movielens("ml-20m")`` on the folder;
2. clean: ``preprocess.clean``;
3. implicit: keep ratings >= 4;
4. k-core: ``preprocess.kcore_filter`` with 5 ratings per user and item;
5. split: ``split.temporal_holdout_split`` (per user, 10 % + 10 %);
6. strong split: ``to_implicit`` and ``strong_generalization_split`` with
   10,000 validation and 10,000 test users (a tenth of the users each, if
   that is fewer).

Targets for 20 million rows: under 60 s for steps 1-5 together, under
4 GB peak. The synthetic data mimics ML-20M's shape (138,493 users,
26,744 movies, long-tailed popularity and activity, half-star ratings, the
file sorted by user then movie), not its exact distributions.

Run from the repository root::

    python -m benchmarks.bench_data            # 20,000,000 rows
    python -m benchmarks.bench_data --rows 1000000

It prints a Markdown fragment and writes it to benchmarks/results/data.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ._report import describe_machine, publish

RESULTS = Path(__file__).resolve().parent / "results" / "data.md"
ML20M_USERS, ML20M_ITEMS, ML20M_ROWS = 138_493, 26_744, 20_000_263
# Share of each half-star rating 0.5, 1.0, ..., 5.0 (an estimate of ML-20M's).
RATING_SHARES = np.array([1.1, 3.4, 1.6, 7.2, 4.4, 21.4, 11.1, 27.5, 7.6, 14.5])
CHUNK_ROWS = 2_000_000


def generate(folder: Path, n_rows: int, seed: int = 0) -> None:
    """Write ratings.csv and movies.csv of a synthetic release into `folder`."""
    rng = np.random.default_rng(seed)
    scale = n_rows / ML20M_ROWS
    n_users = max(100, round(ML20M_USERS * scale**0.5))
    n_items = max(100, round(ML20M_ITEMS * scale**0.5))

    # Long tails: Zipf-like weights over users and items; pairs made unique.
    user_weights = 1 / np.arange(1, n_users + 1) ** 0.6
    item_weights = 1 / np.arange(1, n_items + 1) ** 1.3
    keys = np.empty(0, dtype=np.int64)
    for _ in range(50):  # draw until there are enough distinct pairs
        draw = max(3 * (n_rows - len(keys)), n_rows // 10)
        users = rng.choice(n_users, size=draw, p=user_weights / user_weights.sum())
        items = rng.choice(n_items, size=draw, p=item_weights / item_weights.sum())
        keys = np.sort(np.concatenate([keys, users.astype(np.int64) * n_items + items]))
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]]  # np.unique hashes, slower
        if len(keys) >= n_rows:
            break
    else:
        raise RuntimeError(f"only {len(keys):,} distinct pairs drawn; lower --rows")
    keys = np.sort(rng.choice(keys, size=n_rows, replace=False))
    users, items = keys // n_items + 1, keys % n_items + 1

    ratings = (rng.choice(10, size=n_rows, p=RATING_SHARES / RATING_SHARES.sum())
               + 1) / 2
    start = int(pd.Timestamp("1995-01-09").timestamp())
    stop = int(pd.Timestamp("2015-03-31").timestamp())
    stamps = rng.integers(start, stop, size=n_rows)

    folder.mkdir(parents=True)
    with open(folder / "ratings.csv", "wb") as f:
        f.write(b"userId,movieId,rating,timestamp\n")
        for lo in range(0, n_rows, CHUNK_ROWS):
            part = slice(lo, lo + CHUNK_ROWS)
            f.write(_csv_lines(users[part], items[part], ratings[part], stamps[part]))

    genres = np.array(["Action", "Comedy", "Drama", "Romance", "Thriller"])
    picks = [genres[rng.random(len(genres)) < 0.3] for _ in range(n_items)]
    pd.DataFrame({
        "movieId": np.arange(1, n_items + 1),
        "title": [f"Movie {i}, The ({1950 + i % 65})" for i in range(1, n_items + 1)],
        "genres": ["|".join(p) if len(p) else "(no genres listed)" for p in picks],
    }).to_csv(folder / "movies.csv", index=False, lineterminator="\n")


def _digits(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the right-aligned ASCII digits of integers >= 0, and the used ones."""
    width = len(str(int(values.max())))
    chars = np.empty((len(values), width), dtype=np.uint8)
    rest = values.astype(np.int64)
    for column in range(width - 1, -1, -1):
        chars[:, column] = 48 + rest % 10
        rest //= 10
    n_digits = 1 + sum(values >= 10**k for k in range(1, width))
    used = np.arange(width) >= (width - n_digits)[:, None]
    return chars, used


def _csv_lines(users, items, ratings, stamps) -> bytes:
    """Format rows as "user,item,rating,timestamp\\n" without a Python loop per row.

    Each row is laid out in fixed-width fields and the unused leading digit
    positions are then masked away; `to_csv` is about ten times slower.
    """
    n = len(users)
    comma = np.full((n, 1), ord(","), dtype=np.uint8)
    newline = np.full((n, 1), ord("\n"), dtype=np.uint8)
    tenths = np.round(ratings * 10).astype(np.int64)
    rating = np.stack([48 + tenths // 10, np.full(n, ord(".")), 48 + tenths % 10],
                      axis=1).astype(np.uint8)
    pieces, masks = [], []
    for chars, used in (_digits(users), (comma, None), _digits(items), (comma, None),
                        (rating, None), (comma, None), _digits(stamps),
                        (newline, None)):
        pieces.append(chars)
        masks.append(np.ones(chars.shape, dtype=bool) if used is None else used)
    return np.hstack(pieces)[np.hstack(masks)].tobytes()


def _reset_peak() -> bool:
    """Reset this process's peak resident memory (Linux); True if it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM missing from /proc/self/status")


def measure(root: Path) -> dict:
    """Run the pipeline on the release in `root`; return per-step times and peaks."""
    import genrec
    from genrec import preprocess, split
    from genrec.datasets import load_movielens
    from genrec.interactions import to_implicit

    steps = {}
    state: dict = {}

    def step(name, work):
        resettable = _reset_peak()
        begin, cpu = time.perf_counter(), time.process_time()
        work()
        steps[name] = {"seconds": time.perf_counter() - begin,
                       "cpu_seconds": time.process_time() - cpu,
                       "peak_bytes": _peak_bytes(), "peak_is_per_step": resettable}

    def parse():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the synthetic folder has no checksums
            state["ml"] = load_movielens("ml-20m", data_dir=root)

    def clean():
        state["ml"], state["report"] = preprocess.clean(state.pop("ml"))

    def implicit():
        ratings = state["ml"].ratings
        state["positive"] = ratings[ratings["rating"] >= 4.0]

    def kcore():
        state["core"], state["kcore"] = preprocess.kcore_filter(
            state.pop("positive"), min_user_count=5, min_item_count=5)

    def temporal():
        state["split"] = split.temporal_holdout_split(state["core"], seed=0)

    def strong():
        data = to_implicit(state["core"])
        state["n_held"] = n_held = min(10_000, data.n_users // 10)
        state["strong"] = split.strong_generalization_split(
            data, n_valid_users=n_held, n_test_users=n_held, seed=0)

    load = os.getloadavg()[0]
    step("parse", parse)
    step("clean", clean)
    step("implicit (rating >= 4)", implicit)
    step("k-core (5, 5)", kcore)
    step("per-user temporal split", temporal)
    step("strong split", strong)
    return {
        "steps": steps,
        "n_ratings": len(state["ml"].ratings),
        "n_core": len(state["core"]),
        "kcore_rounds": state["kcore"].n_rounds,
        "n_held": state["n_held"],
        "split": repr(state["split"]),
        "genrec": genrec.__version__,
        "load": load,
    }


def report(result: dict, n_rows: int, generate_seconds: float) -> str:
    steps = result["steps"]
    lines = [
        "## Data pipeline at ML-20M scale",
        "",
        f"`python -m benchmarks.bench_data --rows {n_rows}` on "
        f"{datetime.date.today():%Y-%m-%d}: {describe_machine()}. Load average "
        f"when the pipeline started: {result['load']:.1f}; CPU seconds include "
        "both cores where a step uses them, and depend less on other load "
        "than wall seconds do.",
        "",
        f"A synthetic release in the ml-20m CSV layout with {n_rows:,} ratings "
        f"(written in {generate_seconds:.0f} s, not counted) was parsed, cleaned "
        f"({result['n_ratings']:,} ratings kept), reduced to ratings >= 4, "
        f"filtered to its 5-core in {result['kcore_rounds']} round(s) "
        f"({result['n_core']:,} interactions) and split, per user by time and by "
        f"holding out {result['n_held']:,} validation and as many test users. "
        "Peak memory is the "
        "process's peak resident set size during each step.",
        "",
        "| step | wall seconds | CPU seconds | peak memory (GB) |",
        "|---|---:|---:|---:|",
    ]
    for name, values in steps.items():
        lines.append(f"| {name} | {values['seconds']:.1f} | "
                     f"{values['cpu_seconds']:.1f} | "
                     f"{values['peak_bytes'] / 1e9:.2f} |")
    core = [v for k, v in steps.items() if not k.startswith("strong")]
    total = sum(v["seconds"] for v in core)
    peak = max(v["peak_bytes"] for v in steps.values())
    lines += [
        "",
        f"Parse to per-user split: {total:.1f} s (target: under 60 s for 20 "
        f"million rows). Peak over all steps: {peak / 1e9:.2f} GB (target: "
        "under 4 GB).",
        "",
    ]
    if not all(v["peak_is_per_step"] for v in steps.values()):
        lines.append("Peaks could not be reset between steps on this system, so "
                     "each is the peak of the process so far.\n")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000,
                        help="number of synthetic ratings (default: 20,000,000)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true",
                        help="print the fragment without writing results/data.md")
    args = parser.parse_args()

    if args.measure is not None:  # the child process
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory(prefix="genrec-bench-") as tmp:
        begin = time.perf_counter()
        generate(Path(tmp) / "ml-20m", args.rows)
        generate_seconds = time.perf_counter() - begin
        # A fresh process, so the peak memory is the pipeline's alone.
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_data", "--measure", tmp],
            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if child.returncode:
        sys.exit(f"the measuring process failed:\n{child.stderr}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    fragment = report(result, args.rows, generate_seconds)
    publish(fragment, RESULTS, write=not args.no_write)


if __name__ == "__main__":
    main()
