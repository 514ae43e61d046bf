"""degram enroll: manage a speaker gallery (open-set speaker identification) from audio files.

    degram enroll CHECKPOINT GALLERY NAME FILE...       enroll NAME, one clip per file
    degram enroll CHECKPOINT GALLERY --list             speakers and their clip counts
    degram enroll CHECKPOINT GALLERY --forget NAME      remove a speaker
    degram enroll CHECKPOINT GALLERY --identify FILE... who speaks in each file
"""
from __future__ import annotations

import argparse

from ._gallery import check_action, identify_files, list_entries, show

HELP = "enroll speakers from audio files into a gallery, list, forget, or identify them"

EPILOG = """\
examples:
  degram enroll model.pt speakers.json alice a1.wav a2.wav a3.wav   enroll alice (3 clips)
  degram enroll model.pt speakers.json --list
  degram enroll model.pt speakers.json --identify who.wav
  degram enroll model.pt speakers.json --forget alice

Each file is one clip, enrolled as the speaker_id node's ~/enroll enrolls a request: windows
of the node's length (--window-s), those the voice-activity gate passes embedded and averaged
(at least 1 s of speech a file). A speaker is the mean of its clips' normalised embeddings,
so enrolling more clips later refines it. The gallery (JSON) is created on the first
enrollment and only ever used with the checkpoint that made it. --identify prints the best speaker and
its similarity (T-normalised for a model with a tnorm_scale, else cosine), or "unknown" below
--threshold. Exit status: 0 ok, 1 some file failed,
2 bad arguments or an unusable checkpoint/gallery."""


def configure(parser):
    from ..runtime.listener import ListenerConfig
    from ..runtime.operating_points import POINTS

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("checkpoint",
                        help="a degram checkpoint (.pt): its embeddings describe voices")
    parser.add_argument("gallery", help="the speaker gallery (.json); created on first enrollment")
    parser.add_argument("enroll", nargs="*", metavar="NAME FILE",
                        help="enroll NAME from one or more audio files (one clip each)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="list the enrolled speakers")
    action.add_argument("--forget", metavar="NAME", help="remove speaker NAME from the gallery")
    action.add_argument("--identify", nargs="+", metavar="FILE",
                        help="identify the speaker of each audio file")
    parser.add_argument("--threshold", type=float, default=None,
                        help=f"similarity below which --identify says unknown (default: "
                             f"the checkpoint's own similarity_threshold, chosen on validation "
                             f"speakers; {POINTS['similarity_threshold'].default} for a "
                             f"model without one)")
    parser.add_argument("--window-s", type=float, default=ListenerConfig.window_s,
                        help="enrollment windows, as long as the node's (default: its default)")
    parser.add_argument("--min-speech-fraction", type=float, default=-1.0,
                        help="share of a window's frames that must be speech; negative: the "
                             "model's own (degram info); 0 turns the voice-activity gate off")
    parser.add_argument("-k", "--top-k", type=int, default=3,
                        help="candidates printed by --identify")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")


def run(args) -> int:
    from ..galleries.gallery import Gallery, checkpoint_identity

    check_action(args, args.enroll, "enroll", "enrollment")
    gallery = Gallery(args.gallery, checkpoint_identity(args.checkpoint))
    if args.list:
        return list_entries(args, gallery, "speakers", "no speakers enrolled")
    if args.forget is not None:
        if not gallery.forget(args.forget):
            raise ValueError(f"{gallery.path}: no speaker {args.forget!r} "
                             f"(enrolled: {', '.join(gallery.names()) or 'none'})")
        return show(args, {"forgotten": args.forget}, lambda doc: [f"forgot {args.forget}"])

    from ..runtime.classifier import Classifier
    from ..runtime.operating_points import resolve
    classifier = Classifier(args.checkpoint, device=args.device)
    args.threshold = resolve("similarity_threshold", args.threshold, classifier)
    if args.identify is not None:
        return identify_files(args, gallery, lambda path: embed_file(classifier, path),
                              args.threshold, "speaker", "no speakers enrolled yet; enroll some first")
    name, files = args.enroll[0], args.enroll[1:]
    embeddings = enroll_files(args, classifier, files)  # all or nothing
    clips = gallery.enroll(name, embeddings)
    return show(args, {"name": name, "added": len(files), "clips": clips},
                lambda doc: [f"enrolled {name}: {len(files)} clip(s) added, {clips} in total "
                             f"({gallery.path})"])


def enroll_files(args, classifier, files: list[str]) -> list:
    """One enrollment embedding per file, by the node's path (galleries.enrollment). Errors
    name the file: enrollment stops at the first bad one, so a speaker is never enrolled from
    fewer clips than asked."""
    from ..galleries.enrollment import voice_embedding
    from ..runtime.audio import load_audio
    from ..runtime.operating_points import resolve
    from ..runtime.vad import VoiceActivity

    min_speech = resolve("vad_min_speech", args.min_speech_fraction, classifier)
    vad = VoiceActivity() if min_speech > 0 else None
    embeddings = []
    for path in files:
        wave = load_audio(path, classifier.sample_rate)  # AudioError names the file
        try:
            embeddings.append(voice_embedding(classifier, vad, wave, classifier.sample_rate,
                                              args.window_s, min_speech)[0])
        except (ValueError, RuntimeError) as error:  # too little speech; the model's own
            raise ValueError(f"{path}: {error}") from None
    return embeddings


def embed_file(classifier, path: str):
    """One file's (embedding, cohort cosines or None) to identify: Classifier.speaker_vector,
    the whole file as the node takes one window. Errors name the file."""
    from ..runtime.audio import load_audio

    wave = load_audio(path, classifier.sample_rate)  # AudioError names the file
    try:
        return classifier.speaker_vector(wave, classifier.sample_rate)
    except RuntimeError as error:  # the model's own
        raise ValueError(f"{path}: {error}") from None
