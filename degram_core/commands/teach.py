"""degram teach: teach a sound model new sounds from audio files (a gallery of taught sounds).

    degram teach CHECKPOINT GALLERY NAME FILE...        teach NAME, one clip per file
    degram teach CHECKPOINT GALLERY --list              taught sounds and their clip counts
    degram teach CHECKPOINT GALLERY --forget NAME       remove a taught sound
    degram teach CHECKPOINT GALLERY --identify FILE...  which taught sound each file holds
"""
from __future__ import annotations

import argparse
import sys

from ._gallery import check_action, identify_files, list_entries, show

HELP = "teach a sound model new sounds from audio files, list, forget, or identify them"

EPILOG = """\
examples:
  degram teach sound.pt taught.json doorbell d1.wav d2.wav d3.wav   teach doorbell (3 clips)
  degram teach sound.pt taught.json --list
  degram teach sound.pt taught.json --identify what.wav
  degram teach sound.pt taught.json --forget doorbell

Each file is one clip, taught as the sound_events node's ~/teach teaches one: 2 s windows
holding loud-enough audio, each described by the model (galleries/sounds.py) and averaged.
A taught sound is the mean of its clips, so teaching more clips later refines it. A name may
not be one of the model's own labels. The gallery (JSON) is created on the first clip and
only ever used with the checkpoint that made it (its SHA-256 and file name). --identify prints
the most similar taught sound and its cosine similarity, or "unknown" below --threshold.
Exit status: 0 ok, 1 some file failed (or --forget of a sound not taught), 2 bad arguments or
an unusable checkpoint/gallery/clip."""

WINDOW_S = 2.0  # the sound_events node's window


def configure(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("checkpoint", help="a degram sound-event checkpoint (.pt)")
    parser.add_argument("gallery", help="the taught sounds (.json); created on first teaching")
    parser.add_argument("teach", nargs="*", metavar="NAME FILE",
                        help="teach NAME from one or more audio files (one clip each)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="list the taught sounds")
    action.add_argument("--forget", metavar="NAME", help="remove taught sound NAME")
    action.add_argument("--identify", nargs="+", metavar="FILE",
                        help="name the taught sound in each audio file")
    from ..runtime.operating_points import POINTS

    parser.add_argument("--threshold", type=float, default=None,
                        help=f"similarity below which --identify says unknown (default: the "
                             f"checkpoint's own teach_threshold, {POINTS['teach_threshold'].default} for a "
                             f"model without one)")
    parser.add_argument("-k", "--top-k", type=int, default=3,
                        help="candidates printed by --identify")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def run(args) -> int:
    from ..galleries.gallery import Gallery, checkpoint_identity

    check_action(args, args.teach, "teach", "teaching")
    # kind "sounds": a speaker gallery, or one another model made, is refused here
    gallery = Gallery(args.gallery, checkpoint_identity(args.checkpoint), kind="sounds")
    if args.list:
        return list_entries(args, gallery, "sounds", "no sounds taught")
    if args.forget is not None:
        if not gallery.forget(args.forget):
            print(f"degram teach: {gallery.path}: no taught sound {args.forget!r} "
                  f"(taught: {', '.join(gallery.names()) or 'none'})", file=sys.stderr)
            return 1
        return show(args, {"forgotten": args.forget}, lambda doc: [f"forgot {args.forget}"])

    from ..runtime.classifier import Classifier
    classifier = Classifier(args.checkpoint, device="cpu")
    if args.identify is not None:
        return identify_files(args, gallery, lambda path: (file_vector(classifier, path), None),
                              threshold_of(args.threshold, classifier), "sound",
                              "no sounds taught yet; teach some first")
    name, files = args.teach[0].strip(), args.teach[1:]
    own = {label.casefold(): label for label in classifier.labels}
    if name.casefold() in own:
        raise ValueError(f"{name!r} is one of the model's own labels ({own[name.casefold()]!r}); "
                         f"teach a sound it does not already know, under another name")
    vectors = [file_vector(classifier, path) for path in files]  # all or nothing
    clips = gallery.enroll(name, vectors)
    return show(args, {"name": name, "added": len(files), "clips": clips},
                lambda doc: [f"taught {name}: {len(files)} clip(s) added, {clips} in total "
                             f"({gallery.path})"])


def threshold_of(given: float | None, classifier) -> float:
    """--threshold when given, else the model's own teach_threshold."""
    from ..runtime.operating_points import resolve

    return resolve("teach_threshold", given, classifier)


def file_vector(classifier, path: str):
    """One file's unit vector by the one teaching path (enrollment.sound_embedding). Errors
    name the file."""
    from ..galleries.enrollment import sound_embedding
    from ..runtime.audio import load_audio
    from ..runtime.checks import MIN_ENROLL_S

    rate = classifier.sample_rate
    wave = load_audio(path, rate)  # AudioError names the file
    if len(wave) < MIN_ENROLL_S * rate:
        raise ValueError(f"{path}: {len(wave) / rate:.2f} s of audio is too little; give at "
                         f"least {MIN_ENROLL_S} s")
    try:
        return sound_embedding(classifier, wave, rate, window_s=WINDOW_S)[0]
    except (ValueError, RuntimeError) as error:  # too little sound; the model's own
        raise ValueError(f"{path}: {error}") from None
