"""A room no model was trained on: how often does a sound-event model name an event in a
background recording it never heard? For choosing recipes without the test streams: train
with one noise recording left out of everything (its background clips and the noise it mixes
into clips), then score the part of that recording bench/false_events.py does not play (its
first 70 %), with the node's window, hop and top_k and the model's own threshold.

    python tools/prepare_sound_events.py --leave-out doing_the_dishes
    degram train config/train_sound_events.yaml --set out_dir=runs/no_dishes \
        train_manifest=runs/manifests/sound_events_no_doing_the_dishes.csv \
        "noise_exclude=[dude_miaowing, doing_the_dishes]"
    degram calibrate runs/no_dishes/best.pt --fold 4 --window-s 2.0 --hop-s 0.5 \
        --events runs/manifests/sound_events_no_doing_the_dishes.csv
    python bench/unheard_room.py runs/no_dishes/best.pt --room doing_the_dishes
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from false_events import DATA, event_threshold, node_params, sound_figures  # noqa: E402

from degram_core.runtime.audio import load_audio  # noqa: E402
from degram_core.runtime.classifier import Classifier  # noqa: E402
from degram_core.data.mixing import NOISE_TRAIN_FRACTION  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--room", action="append", required=True,
                        help="a noise recording's stem (../shared/data/noise/<stem>.flac)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    params = node_params("sound_events")
    model = Classifier(args.model, device="cpu")
    threshold = event_threshold(params, model)
    for room in args.room:
        wave = load_audio(DATA / "noise" / f"{room}.flac")
        heard = wave[:int(len(wave) * NOISE_TRAIN_FRACTION)]
        figures = sound_figures(model, threshold, params["window_s"], params["hop_s"],
                                params["top_k"], "background", heard)
        print(f"{room} (first 70 %, {len(heard) / 16000:.0f} s), threshold {threshold:.2f}: "
              f"{figures['false events / min']:.2f} false events / min over {figures['windows']} "
              f"windows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
