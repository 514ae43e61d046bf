"""Shared fixtures: a small model trained in seconds on synthetic audio, so inference tests
check real answers rather than a random network's."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory) -> Path:
    import torch

    from degram_core import build_model, save_checkpoint
    from synthetic import LABELS, make_batch

    torch.manual_seed(0)
    model = build_model("degram-resnet-tiny", len(LABELS))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(60):
        waves, targets = make_batch(16, 1.0, seed=step)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(waves)),
                                                 torch.from_numpy(targets))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = tmp_path_factory.mktemp("model") / "synthetic.pt"
    save_checkpoint(path, model.eval(), LABELS, meta={"trained_on": "synthetic tones", "steps": 60})
    return path
