"""genrec's EASE and ItemKNN on the DiffRec ML-1M clean split, next to RecBole's.

Protocol (the one of the DiffRec code): every user is in the training,
validation and test parts; models are fitted on the training rows and read
only them; the validation ranking excludes training movies, the test
ranking excludes training and validation movies; plain recall (hits /
number of targets) and NDCG with binary gains at k = 20.

Hyperparameters are chosen on the validation part by Recall@20 over the
grids below; the test part is evaluated once, for the chosen point. For
reference the test numbers at RecBole's default hyperparameters (EASE
``reg_weight: 250.0``, ItemKNN ``k: 100`` and ``shrink: 0.0``, from
RecBole's ``recbole/properties/model/*.yaml``) are listed too.

The RecBole figures in ``RECBOLE`` were measured with RecBole on this
machine by the person who requested the comparison; this script does not
run RecBole.

Run from the repository root with the data folder set::

    GENREC_DATA=/path/to/data python -m benchmarks.bench_baselines_diffrec

It prints a Markdown fragment and writes it to
benchmarks/results/baselines_diffrec.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from pathlib import Path

import genrec
from genrec.metrics import evaluate
from genrec.models.baselines import EASE, ItemKNN
from genrec.tuning import grid_search

from ._report import describe_machine, publish

RESULTS = Path(__file__).resolve().parent / "results" / "baselines_diffrec.md"
RECBOLE = {"EASE": (0.1817, 0.1158), "ItemKNN": (0.1702, 0.1136)}  # Recall@20, NDCG@20
SPACES = {
    "EASE": (EASE, {"l2": [50, 100, 200, 250, 300, 500, 1000, 2000]}, {"l2": 250.0}),
    "ItemKNN": (ItemKNN, {"n_neighbors": [20, 50, 100, 200, 400],
                          "shrink": [0, 10, 50, 100]},
                {"n_neighbors": 100, "shrink": 0.0}),
}
METRIC = "recall@20"


def run() -> dict:
    """Tune each model on validation and evaluate the chosen one on test."""
    split = genrec.load_diffrec_split("clean")
    seen = (split.train + split.valid).tocsr()

    def test_scores(model) -> tuple[float, float]:
        ev = evaluate(model, split.train, split.test, k=[20],
                      metrics=["recall", "ndcg"], exclude=seen)
        return ev["recall@20"], ev["ndcg@20"]

    results = {}
    for name, (make, grid, defaults) in SPACES.items():
        start = time.perf_counter()
        search = grid_search(make, grid, split.train, split.train, split.valid,
                             metric=METRIC)
        results[name] = {
            "grid": grid, "search": search, "seconds": time.perf_counter() - start,
            "test": test_scores(search.best_model), "defaults": defaults,
            "default_test": test_scores(make(**defaults).fit(split.train)),
        }
    results["split"] = repr(split)
    return results


def report(results: dict, load: float) -> str:
    lines = [
        "## EASE and ItemKNN on the DiffRec ML-1M clean split",
        "",
        f"`python -m benchmarks.bench_baselines_diffrec` on "
        f"{datetime.date.today():%Y-%m-%d}: {describe_machine()}. Load average at the "
        f"start: {load:.1f}.",
        "",
        f"Data: {results['split']}. Models fitted on the training rows; test "
        "ranking excludes training and validation movies; plain Recall@20 and "
        f"NDCG@20. Hyperparameters chosen by validation {METRIC} over the "
        "stated grid; test evaluated once for the chosen point.",
        "",
        "| model | search space | chosen on validation | test Recall@20 | "
        "test NDCG@20 | RecBole Recall@20 | RecBole NDCG@20 |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for name in SPACES:
        entry = results[name]
        space = "; ".join(f"{k} in {v}" for k, v in entry["grid"].items())
        chosen = ", ".join(f"{k}={v}" for k, v in entry["search"].best_params.items())
        recall, ndcg = entry["test"]
        lines.append(f"| genrec {name} | {space} | {chosen} | {recall:.4f} | "
                     f"{ndcg:.4f} | {RECBOLE[name][0]:.4f} | {RECBOLE[name][1]:.4f} |")
        defaults = ", ".join(f"{k}={v}" for k, v in entry["defaults"].items())
        recall, ndcg = entry["default_test"]
        lines.append(f"| genrec {name} at RecBole's defaults | - | {defaults} | "
                     f"{recall:.4f} | {ndcg:.4f} | | |")
    gaps = {name: max(abs(a - b) for a, b in zip(results[name]["test"], RECBOLE[name]))
            for name in SPACES}
    lines += ["", "Largest absolute gap to RecBole's test Recall@20 and NDCG@20, "
              "at the validation-chosen point: " + ", ".join(
                  f"{name} {gap:.4f}" for name, gap in gaps.items()) + "."]
    lines += ["", "RecBole figures: measured with RecBole on this machine by "
              "the person who requested this comparison; this script does not run "
              "RecBole. Time per search "
              "(fits and validation evaluations): " + ", ".join(
                  f"{name} {results[name]['seconds']:.1f} s" for name in SPACES) + "."]
    for name in SPACES:
        table = results[name]["search"].results
        lines += ["", f"Validation {METRIC} over the {name} grid:", "",
                  "| " + " | ".join(table.columns) + " |",
                  "|" + "---:|" * len(table.columns)]
        for _, row in table.iterrows():
            cells = [f"{v:.4f}" if key == METRIC else f"{v:g}" for key, v in row.items()]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true",
                        help=f"print the fragment without writing {RESULTS.name}")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    text = report(run(), load)
    publish(text, RESULTS, write=not args.no_write)


if __name__ == "__main__":
    main()
