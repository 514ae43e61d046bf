"""Sources no model was trained on: how often does a sound-event model name an event in real
places it never heard? For choosing recipes without the test streams: the recipe trained on
`sound_events_unheard.csv` (tools/prepare_sound_events.py: no street, no home_noise, no
snu_b36, five ESC-10 classes left out) is scored on all of street, home_noise and snu_b36,
with the node's window, hop and top_k and per-class thresholds chosen on its own fold 4.

    degram train config/train_sound_events_unheard.yaml
    python bench/unheard_sources.py runs/sound_unheard/best.pt \
        --calibrate runs/manifests/sound_events_unheard.csv
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from false_events import DATA, RATE, joined, node_params  # noqa: E402

from degram_core import data  # noqa: E402
from degram_core.runtime.audio import load_audio  # noqa: E402
from degram_core.runtime.classifier import Classifier  # noqa: E402
from degram_core.runtime.events import SPEECH, reported  # noqa: E402
from degram_core.runtime.operating_points import event_thresholds as thresholds_of  # noqa: E402
from degram_core.scoring.calibration import event_thresholds, window_probabilities  # noqa: E402


def sources(rng) -> dict[str, np.ndarray]:
    out = {}
    for path in sorted((DATA / "street" / "audio").glob("*.opus")):
        out[f"street {path.stem[:8]}"] = load_audio(path)
    with open(DATA / "home_noise" / "meta.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    out["home_noise (all 785 clips)"] = joined([load_audio(DATA / "home_noise" / r["file"])
                                                for r in rows], rng, (0.0, 0.0))
    with open(DATA / "snu_b36" / "meta.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for kind in sorted({r["kind"] for r in rows}):
        out[f"snu_b36 {kind}"] = joined([load_audio(DATA / "snu_b36" / r["file"])
                                         for r in rows if r["kind"] == kind], rng, (0.0, 0.0))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--calibrate", default="", help="manifest whose fold 4 chooses thresholds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    params = node_params("sound_events")
    window_s, hop_s, top_k = params["window_s"], params["hop_s"], params["top_k"]
    model = Classifier(args.model, device="cpu")
    if args.calibrate:
        rows = data.select(data.read_manifest(args.calibrate), folds=[4])
        clips = [(load_audio(i.path), i.label) for i in rows]
        result = event_thresholds(model, clips, window_s, hop_s)
        model.meta["event_thresholds"] = result["event_thresholds"]
        print("thresholds:", {k: round(v, 2) for k, v in result["event_thresholds"].items()})
        print("fold 4 window recall:", {k: round(v, 3) for k, v in result["event_window_recall"].items()},
              "mean", round(float(np.mean(list(result["event_window_recall"].values()))), 3))
    limits = thresholds_of(model.labels, None, model)
    rng = np.random.default_rng(1)
    for name, wave in sources(rng).items():
        if name.startswith("snu_b36") and any(k in model.labels for k in ("impact", "hammering")):
            continue  # its events, not a source of false ones
        probs = window_probabilities(model, wave, window_s, hop_s)
        said = Counter(model.labels[i] for p in probs for i, _ in reported(p, model.labels, limits, top_k))
        allowed = {SPEECH} if name.startswith("home_noise") else set()  # people talk at home
        false = sum(v for k, v in said.items() if k not in allowed)
        minutes = len(probs) * hop_s / 60
        print(f"{name}: {len(wave) / RATE / 60:.1f} min, {false / minutes:.2f} false events / min "
              f"{dict(said.most_common(4))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
