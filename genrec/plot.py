"""Figures that more than one chapter draws."""

from __future__ import annotations

import matplotlib.pyplot as plt

from .train import History


def training_curve(history: History, ax=None):
    """Plot the training loss and, on a second axis, the validation metric.

    Returns the loss axis.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    epochs = history.epochs
    ax.plot(epochs.index, epochs["loss"], color="C0", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (per user)")
    handles = ax.get_lines()
    if history.metric in epochs:
        right = ax.twinx()
        right.plot(epochs.index, epochs[history.metric], color="C1",
                   label=f"validation {history.metric}")
        if history.best_epoch is not None:
            right.axvline(history.best_epoch, color="grey", ls=":", label="best epoch")
        right.set_ylabel(history.metric)
        handles = handles + right.get_lines()
    ax.legend(handles=handles, labels=[h.get_label() for h in handles], loc="center right")
    return ax
