"""Shared parts of the benchmark fragments: the machine description and output."""

import os
import platform


def describe_machine() -> str:
    """Return CPU model, cores, RAM and the versions of the numeric libraries."""
    import numpy
    import pandas
    import scipy
    import torch

    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        ram_gib = int(f.readline().split()[1]) / 2**20
    return (f"{cpu}, {os.cpu_count()} cores, {ram_gib:.0f} GiB RAM; Python "
            f"{platform.python_version()}, numpy {numpy.__version__}, pandas "
            f"{pandas.__version__}, scipy {scipy.__version__}, torch "
            f"{torch.__version__} with {torch.get_num_threads()} intra-op threads")


def publish(text: str, path, *, write: bool = True) -> None:
    """Print a Markdown fragment and, unless `write` is false, save it to `path`."""
    print(text)
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
