"""A run's logs: one CSV row an epoch (always) and TensorBoard scalars (when installed), on
rank 0 only."""
from __future__ import annotations

import csv
import logging
from pathlib import Path

log = logging.getLogger(__name__)


class Logger:
    """CSV (always) and TensorBoard (when installed and asked for) logs, on rank 0 only."""

    def __init__(self, out_dir: Path, tensorboard: bool, enabled: bool):
        self.enabled, self.csv_path, self.writer = enabled, out_dir / "log.csv", None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.writer = SummaryWriter(str(out_dir / "tensorboard"))
            except ImportError:
                log.warning("tensorboard is not installed: logging to %s only", self.csv_path)

    def epoch(self, row: dict) -> None:
        if not self.enabled:
            return
        new = not self.csv_path.exists()
        with open(self.csv_path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.writer is not None:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, row["epoch"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
