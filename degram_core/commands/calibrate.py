"""degram calibrate CHECKPOINT: choose operating points on validation data and store them in
the checkpoint's meta, where the nodes and `degram enroll` find them.

    degram calibrate sound.pt --events MANIFEST --fold 4          event_threshold
                         (--per-class: also event_thresholds, one per class)
    degram calibrate sound.pt --teach MANIFEST --teach-threshold T  teach_stats, teach_threshold
    degram calibrate speaker.pt --vad MANIFEST --split train --noise-dir DIR   vad_min_speech
    degram calibrate speaker.pt --speakers config/train_speakers.yaml   similarity_threshold
                                       (--tnorm: T-normalised, stores tnorm_scale)
"""
from __future__ import annotations

import argparse
import json

HELP = "choose a model's thresholds on validation data and store them in the checkpoint"


def configure(parser):
    parser.add_argument("checkpoint", help="a degram checkpoint (.pt); its meta is updated")
    parser.add_argument("--events", metavar="MANIFEST",
                        help="sound events: choose event_threshold on these clips (with "
                             "'speech' and 'background' rows)")
    parser.add_argument("--fold", help="only this fold of --events (the validation fold)")
    parser.add_argument("--max-false-per-min", type=float, default=0.5,
                        help="false events a minute allowed on speech and on background")
    parser.add_argument("--per-class", action="store_true",
                        help="--events: also one threshold per class (event_thresholds), the "
                             "budget shared among the classes")
    parser.add_argument("--teach", metavar="MANIFEST",
                        help="taught sounds: the embedding statistics (teach_stats) of 200 "
                             "training clips (folds 1-3) of this manifest")
    parser.add_argument("--teach-threshold", type=float,
                        help="--teach: the open-set threshold of taught sounds, as chosen on "
                             "validation by bench/teach.py")
    parser.add_argument("--vad", metavar="MANIFEST",
                        help="voice activity: choose vad_min_speech on the speech of these clips")
    parser.add_argument("--split", help="only this split of --vad (never the test split)")
    parser.add_argument("--limit", type=int, default=300, help="at most this many --vad clips")
    parser.add_argument("--noise-dir", help="non-speech for --vad: the training part (first 70 %%) "
                                            "of each recording, plus synthetic room tone")
    # 0.98, not the 0.95 a robot needs: each clip's windows here are read speech, a
    # conversation has longer pauses between utterances (0.97 here gave 0.93 on test streams).
    parser.add_argument("--min-recall", type=float, default=0.98,
                        help="--vad: share of speech windows that must pass the gate")
    parser.add_argument("--speakers", metavar="RECIPE",
                        help="speaker embedding: choose similarity_threshold on the validation "
                             "speakers of this training recipe (as training does)")
    parser.add_argument("--tnorm", action=argparse.BooleanOptionalAction, default=None,
                        help="--speakers: T-normalise the model's similarities by its training "
                             "speakers (or --no-tnorm; default: as the recipe says)")
    parser.add_argument("--window-s", type=float, required=True, help="the node's window")
    parser.add_argument("--hop-s", type=float, default=0.5, help="the node's hop")


def teach_values(args, record: dict) -> dict:
    """teach_stats of the model's training clips and the open-set teach_threshold given."""
    import numpy as np

    from .. import data
    from ..galleries.sounds import stats_of
    from ..runtime.audio import load_audio
    from ..runtime.classifier import Classifier

    if args.teach_threshold is None:
        raise ValueError("--teach needs --teach-threshold (chosen on validation: bench/teach.py)")
    classifier = Classifier(args.checkpoint, device="cpu")
    rows = data.select(data.read_manifest(args.teach), folds=[1, 2, 3])
    picked = np.random.default_rng(0).choice(len(rows), min(200, len(rows)), replace=False)
    record["teach"] = {"manifest": args.teach, "clips": len(picked), "folds": [1, 2, 3],
                       "threshold": args.teach_threshold}
    return {"teach_stats": stats_of(classifier.model, [load_audio(rows[i].path) for i in picked],
                                    classifier.sample_rate),
            "teach_threshold": args.teach_threshold}


def run(args) -> int:
    import numpy as np

    from .. import data
    from ..scoring import calibration as calibrate
    from ..runtime.audio import load_audio
    from ..runtime.classifier import Classifier
    from ..data.mixing import NoiseBank, room_tone

    if not (args.events or args.vad or args.speakers or args.teach):
        raise ValueError("give --events MANIFEST, --vad MANIFEST, --teach MANIFEST and/or "
                         "--speakers RECIPE")
    record, values = {}, {}
    if args.events:
        classifier = Classifier(args.checkpoint, device="cpu")
        items = data.read_manifest(args.events)
        items = data.select(items, folds=[args.fold]) if args.fold else items
        # a label the model does not know (a class added to the data since) decides nothing
        items = [i for i in items if i.label in classifier.labels]
        clips = [(load_audio(i.path, classifier.sample_rate), i.label) for i in items]
        scored = calibrate.scored_clips(classifier, clips, args.window_s, args.hop_s)  # once
        result = calibrate.choose_event_threshold(classifier.labels, scored, args.hop_s,
                                                  args.max_false_per_min)
        values["event_threshold"] = result["event_threshold"]
        record["events"] = {**result, "manifest": args.events, "fold": args.fold,
                            "window_s": args.window_s, "hop_s": args.hop_s}
        if args.per_class:
            result = calibrate.choose_event_thresholds(classifier.labels, scored, args.hop_s,
                                                       args.max_false_per_min)
            values["event_thresholds"] = result["event_thresholds"]
            record["events_per_class"] = result
    if args.teach:
        values.update(teach_values(args, record))
    if args.vad:
        if not args.noise_dir:
            raise ValueError("--vad needs --noise-dir for its non-speech windows")
        vad = calibrate.VoiceActivity()
        items = data.read_manifest(args.vad)
        items = data.select(items, split=args.split) if args.split else items
        rng = np.random.default_rng(0)
        chosen = [items[i] for i in rng.permutation(len(items))[:args.limit]]
        speech = [load_audio(i.path) for i in chosen]
        other = NoiseBank.from_folder(args.noise_dir).waves
        other = other + [room_tone(16000 * 30, rng, (level, level)) for level in (-60, -40)]
        result = calibrate.vad_min_speech(vad, speech, other, args.window_s, args.hop_s,
                                          args.min_recall)
        values["vad_min_speech"] = result["vad_min_speech"]
        record["vad"] = {**result, "manifest": args.vad, "split": args.split,
                         "noise_dir": args.noise_dir, "window_s": args.window_s}
    if args.speakers:
        from ..runtime.checkpoint import load_model
        from ..data.dataset import AudioDataset
        from ..training import TrainConfig, split_items
        from ..training.validation import validate_speakers

        cfg = TrainConfig.from_yaml(args.speakers, {"val_seconds": args.window_s,
                                                    **({} if args.tnorm is None
                                                       else {"tnorm": args.tnorm})})
        model = load_model(args.checkpoint)
        _, val_items = split_items(cfg)
        result = validate_speakers(model, AudioDataset(val_items, sample_rate=model.sample_rate),
                                   cfg)
        values["similarity_threshold"] = result["similarity_threshold"]
        # The threshold's units: T-normalised (the nodes must normalise too), or cosine.
        values["tnorm_scale"] = result.get("tnorm_scale", 0.0)
        record["speakers"] = {**result, "recipe": args.speakers, "window_s": args.window_s}
    calibrate.store(args.checkpoint, values, record)
    print(json.dumps(record, indent=2))
    shown = {k: ("(statistics of the embedding's parts)" if k == "teach_stats" else v)
             for k, v in values.items()}
    print(f"{args.checkpoint}: stored {shown}")

    return 0
