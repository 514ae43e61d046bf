"""Run by test_train.py under torchrun: train, then each rank saves the weights of its own
replica, so the test can check that the ranks ended identical."""
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from degram_core.training import TrainConfig, train

cfg = TrainConfig.from_yaml(sys.argv[1])
summary = train(cfg, progress=False)
torch.save(summary["model"].state_dict(), Path(cfg.out_dir) / f"rank{dist.get_rank()}.pt")
dist.destroy_process_group()
