"""degram plot CHECKPOINT FILE [-o OUT_DIR]: filters.png and representations.png."""
from __future__ import annotations

from pathlib import Path

HELP = "draw a checkpoint's SincGram filters (initial vs learned) and its representations of a file"


def configure(parser):
    parser.add_argument("checkpoint", help="a degram checkpoint (.pt)")
    parser.add_argument("file", metavar="FILE", help="an audio file (wav, flac, ogg, ...)")
    parser.add_argument("-o", "--out-dir", default=".", help="where to write the PNGs (default: .)")


def run(args) -> int:
    from ..runtime.audio import load_audio
    from ..runtime.checkpoint import load_model
    from ..nn.plots import (filter_bank_data, plot_filters, plot_representations,
                         representation_data)

    # Both inputs are read before anything is written, so a bad file leaves no half result.
    model = load_model(args.checkpoint)
    wave = load_audio(args.file, model.sample_rate)
    out_dir = Path(args.out_dir)
    name = f"{Path(args.checkpoint).name} ({model.name})"

    filters = filter_bank_data(model)
    if filters is None:
        print(f"filters.png skipped: {model.name} has a {model.frontend.kind} front end, "
              f"which has no SincGram filter bank")
    else:
        print(plot_filters(filters, out_dir / "filters.png", title=f"SincGram of {name}"))
    print(plot_representations(representation_data(model, wave),
                               out_dir / "representations.png",
                               title=f"{Path(args.file).name}, {name}"))
    return 0
