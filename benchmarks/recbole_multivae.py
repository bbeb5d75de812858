"""Time RecBole's MultiVAE, with its default settings, on a split given as files.

Run by ``benchmarks/bench_vae.py --recbole`` with the Python of a separate
virtual environment that has RecBole 1.2.1 (it does not import genrec)::

    python benchmarks/recbole_multivae.py DATA_DIR NAME N_EPOCHS OUT.json

DATA_DIR/NAME/ contains ``NAME.train.inter``, ``NAME.valid.inter`` and
``NAME.test.inter``, RecBole atomic files with the columns ``user_id:token``
and ``item_id:token``. Each epoch runs RecBole's own training epoch and its
validation (full ranking, its default metrics at k = 10, training items
excluded), timed separately. Early stopping is off, so every run does the
same number of epochs.
"""

import json
import sys
import tempfile
import time


def _memory_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def main(data_dir: str, name: str, n_epochs: int, out: str) -> None:
    import recbole
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.general_recommender import MultiVAE
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    checkpoints = tempfile.mkdtemp(prefix="recbole-checkpoints-")
    config = Config(model="MultiVAE", dataset=name, config_dict={
        "data_path": data_dir,
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id"]},
        "use_gpu": False,
        "device": "cpu",
        "show_progress": False,
        "state": "ERROR",
        "checkpoint_dir": checkpoints,
    })
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, _ = data_preparation(config, dataset)
    init_seed(config["seed"], config["reproducibility"])
    model = MultiVAE(config, train_data.dataset).to(config["device"])
    trainer = Trainer(config, model)
    rss_before = _memory_kib("VmRSS")

    train_seconds, valid_seconds = [], []
    start = time.perf_counter()
    for epoch in range(n_epochs):
        tick = time.perf_counter()
        trainer._train_epoch(train_data, epoch, show_progress=False)
        train_seconds.append(time.perf_counter() - tick)
        tick = time.perf_counter()
        _, result = trainer._valid_epoch(valid_data, show_progress=False)
        valid_seconds.append(time.perf_counter() - tick)
    total = time.perf_counter() - start

    with open(out, "w") as f:
        json.dump({
            "library": f"RecBole {recbole.__version__}",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "n_users": int(dataset.user_num - 1), "n_items": int(dataset.item_num - 1),
            "batch_size": config["train_batch_size"],
            "train_seconds": train_seconds, "valid_seconds": valid_seconds,
            "total_seconds": total,
            "rss_before_training_mib": rss_before / 1024,
            "peak_rss_mib": _memory_kib("VmHWM") / 1024,
            "last_valid": {k: float(v) for k, v in result.items()},
        }, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    if not sys.argv[3].isdigit():
        sys.exit("N_EPOCHS must be a positive integer")
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
