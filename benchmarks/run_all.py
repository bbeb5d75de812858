"""Run every benchmark script with its defaults, one after the other.

Each script writes its own fragment to benchmarks/results/, which the book's
benchmark page includes. RecBole's side-by-side run needs its own virtual
environment and is left out here; see ``python -m benchmarks.bench_vae --help``.

Usage, from the repository root: ``python -m benchmarks.run_all``.
"""

import subprocess
import sys

SCRIPTS = [
    "benchmarks.bench_data",
    "benchmarks.bench_eval",
    "benchmarks.bench_vae",
    "benchmarks.bench_vae_diffrec",
    "benchmarks.bench_baselines_diffrec",
]


def main() -> int:
    failed = []
    for module in SCRIPTS:
        print(f"== {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module]).returncode != 0:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
