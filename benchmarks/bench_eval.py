"""Speed of genrec's evaluator, and of a Mult-VAE run that validates every epoch.

1. Evaluation at ML-1M scale: every user of the DiffRec ML-1M clean split
   (5,949 users, 2,810 movies), the model reading the training rows, the
   test ranking excluding training and validation movies, all eight
   accuracy metrics at k in {10, 20, 50, 100}. The scores come from a
   precomputed random matrix, so the time is the evaluator's own (masking,
   top-k, hits, metrics); a second row adds the scoring of a fitted EASE
   model, a realistic score function.
2. Training: Mult-VAE with genrec's default 600-200-600 architecture (that
   of Liang et al., WWW 2018) on the MovieLens 100K split of the evaluation
   chapter (150 validation and 150 test users, seed 0), 100 epochs of batch
   100 with validation NDCG@100 after every epoch, through ``genrec.train``.

Each evaluation is repeated; the table gives the fastest and the median
run, in wall-clock and CPU seconds. Other processes on the machine slow
wall-clock times, so the load average at the start is recorded too.

Run from the repository root with the data folder set::

    GENREC_DATA=/path/to/data python -m benchmarks.bench_eval

It prints a Markdown fragment and writes it to benchmarks/results/eval.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import genrec
from genrec.metrics import METRICS, evaluate, top_k
from genrec.models.baselines import EASE

from ._report import describe_machine, publish

RESULTS = Path(__file__).resolve().parent / "results" / "eval.md"
CUTOFFS = [10, 20, 50, 100]


class PrecomputedScores:
    """Score function that returns the next rows of a fixed score matrix."""

    def __init__(self, scores: np.ndarray):
        self.scores, self.offset = scores, 0

    def score(self, x) -> np.ndarray:
        rows = self.scores[self.offset:self.offset + x.shape[0]]
        self.offset += x.shape[0]
        return rows


def timed(function, repeats: int) -> tuple[list[float], list[float]]:
    """Return the wall and CPU seconds of `repeats` calls of `function`."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus


def bench_evaluation(repeats: int) -> list[dict]:
    """Time the evaluator on every user of the DiffRec ML-1M clean split."""
    split = genrec.load_diffrec_split("clean")
    seen = (split.train + split.valid).tocsr()
    scores = np.random.default_rng(0).random(split.train.shape, dtype=np.float32)
    ease = EASE(l2=250.0).fit(split.train)

    def with_scores(metrics):
        evaluate(PrecomputedScores(scores), split.train, split.test, k=CUTOFFS,
                 metrics=metrics, exclude=seen)

    cases = {
        "top-100 lists only (`top_k`, one call)":
            lambda: top_k(scores, 100, exclude=seen),
        "evaluate, precomputed scores, NDCG only":
            lambda: with_scores(["ndcg"]),
        "evaluate, precomputed scores, all 8 metrics":
            lambda: with_scores(list(METRICS)),
        "evaluate, EASE scoring + all 8 metrics":
            lambda: evaluate(ease, split.train, split.test, k=CUTOFFS,
                             metrics=list(METRICS), exclude=seen),
    }
    rows = []
    for name, function in cases.items():
        function()  # first call pays for page faults of fresh buffers
        walls, cpus = timed(function, repeats)
        rows.append({"case": name, "min wall s": min(walls),
                     "median wall s": float(np.median(walls)),
                     "median CPU s": float(np.median(cpus))})
    return rows


def bench_training(n_epochs: int) -> dict:
    """Train Mult-VAE on the book's MovieLens 100K split, validating every epoch."""
    ml = genrec.load_movielens("ml-100k")
    data = genrec.to_implicit(ml.ratings, threshold=4.0)
    split = genrec.strong_generalization_split(data, n_valid_users=150,
                                               n_test_users=150, seed=0)
    genrec.set_seed(0)
    vae = genrec.MultVAE(genrec.VAEConfig(split.n_items, anneal_steps=2_000))
    wall, cpu = time.perf_counter(), time.process_time()
    history = genrec.train(vae, split.train, n_epochs=n_epochs, batch_size=100,
                           valid=split.valid, seed=0)
    epochs = history.epochs
    return {
        "n_epochs": len(epochs), "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu, "train": epochs["seconds"].sum(),
        "valid": epochs["valid_seconds"].sum() if "valid_seconds" in epochs else np.nan,
        "best_epoch": history.best_epoch, "best": history.best_score,
        "n_train_users": split.train.shape[0], "n_items": split.n_items,
    }


def report(rows: list[dict], training: dict, repeats: int, load: float,
           flags: str = "") -> str:
    table = pd.DataFrame(rows).set_index("case")
    lines = [
        "## Evaluation and validation speed",
        "",
        f"`python -m benchmarks.bench_eval{flags}` on {datetime.date.today():%Y-%m-%d}: "
        f"{describe_machine()}. Load average at the start: {load:.1f} (other processes "
        "share the cores, so wall seconds are upper bounds).",
        "",
        "**Evaluating every user of the DiffRec ML-1M clean split** (5,949 users x "
        "2,810 movies; input: training rows; ranking excludes training and "
        "validation movies; k in {10, 20, 50, 100}; batches of 1,024 users). "
        f"Each case ran once to warm up, then {repeats} times.",
        "",
        "| case | min wall s | median wall s | median CPU s |",
        "|---|---:|---:|---:|",
    ]
    for case, row in table.iterrows():
        lines.append(f"| {case} | {row['min wall s']:.3f} | {row['median wall s']:.3f} "
                     f"| {row['median CPU s']:.3f} |")
    per_epoch = training["wall"] / training["n_epochs"]
    lines += [
        "",
        f"**Mult-VAE on MovieLens 100K, {training['n_epochs']} epochs with validation "
        f"after each** ({training['n_train_users']} training users, "
        f"{training['n_items']:,} movies, batch 100, 150 validation users): "
        f"{training['wall']:.1f} s wall ({per_epoch:.2f} s per epoch), "
        f"{training['cpu']:.1f} s CPU; of the wall time {training['train']:.1f} s "
        f"training and {training['valid']:.1f} s validation. Best validation "
        f"NDCG@100 {training['best']:.3f} at epoch {training['best_epoch']}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed runs of each evaluation case (default 5)")
    parser.add_argument("--epochs", type=int, default=100,
                        help="Mult-VAE training epochs (default 100)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's own choice)")
    parser.add_argument("--no-write", action="store_true",
                        help=f"print the fragment without writing {RESULTS.name}")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    rows = bench_evaluation(args.repeats)
    training = bench_training(args.epochs)
    flags = "" if args.threads is None else f" --threads {args.threads}"
    text = report(rows, training, args.repeats, load, flags)
    publish(text, RESULTS, write=not args.no_write)


if __name__ == "__main__":
    main()
