#!/usr/bin/env python3
"""Store a checkpoint's floating-point weights as float16, halving the file: how a shipped
model that would pass 5 MB is kept small. Loading casts them back to float32
(load_state_dict copies into the model's own tensors), so every use stays in float32; the
rounding moves an embedding by about 1e-3 relative, and figures are measured on the stored file.

    python tools/half_weights.py models/speaker_id.pt
"""
from __future__ import annotations

import argparse

from degram_core.runtime.checkpoint import atomic_save, load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    args = parser.parse_args()
    data = load_checkpoint(args.checkpoint)
    data["state_dict"] = {k: v.half() if v.is_floating_point() else v
                          for k, v in data["state_dict"].items()}
    data["meta"] = {**data["meta"], "weights_dtype": "float16"}
    atomic_save(data, args.checkpoint)
    print(f"{args.checkpoint}: weights stored as float16")


if __name__ == "__main__":
    main()
