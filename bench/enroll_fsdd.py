"""Open-set speaker enrollment on FSDD: how well a gallery built from 3 clips per speaker
identifies the rest, and rejects a speaker never enrolled.

    .venv/bin/python bench/enroll_fsdd.py --checkpoint runs/fsdd_speakers/best.pt --unknown theo

Protocol (the official FSDD test split only: takes 0-4, 50 clips per speaker):
- every speaker but --unknown is enrolled from --shots test clips picked with --seed, each
  clip as the node enrolls a request (galleries.enrollment: the node's windows, voice gate and
  averaging; FSDD takes are shorter than the 1 s of speech the node asks of a request, so
  that floor is lowered to what a take holds);
- known probes: all their other test clips; unknown probes: every test clip of --unknown;
- at each threshold: identification accuracy on known probes (right name; "unknown" is
  wrong), false rejection of known probes, rejection rate of the unknown speaker.
The threshold sweep is printed as a markdown table. A checkpoint trained without --unknown
measures a truly unseen speaker; one trained on all speakers has seen the unknown in
training (its embeddings were shaped to tell it apart), which flatters rejection.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from degram_core.runtime.audio import load_audio  # noqa: E402
from degram_core.runtime.classifier import Classifier  # noqa: E402
from degram_core.galleries.enrollment import enrollment_embedding, voice_gate  # noqa: E402
from degram_core.galleries.gallery import Gallery, checkpoint_identity  # noqa: E402
from degram_core.runtime.listener import ListenerConfig  # noqa: E402
from degram_core.runtime.operating_points import POINTS, own  # noqa: E402
from degram_core.runtime.vad import VoiceActivity  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd"
SWEEP = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.96, 0.98]


def enrollment(classifier, vad, min_speech: float, wave):
    """One take, enrolled by the node's path; the speech floor lowered to a take's length."""
    return enrollment_embedding(classifier, wave, classifier.sample_rate,
                                ListenerConfig.window_s, voice_gate(vad, min_speech),
                                min_seconds=0.0)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--unknown", required=True, help="speaker held out of the gallery")
    parser.add_argument("--data", type=Path, default=DATA, help="FSDD folder (meta.csv)")
    parser.add_argument("--shots", type=int, default=3, help="enrollment clips per speaker")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=POINTS["similarity_threshold"].default,
                        help="the threshold reported in detail")
    args = parser.parse_args()
    torch.set_num_threads(1)

    with open(args.data / "meta.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    speakers = sorted({r["speaker"] for r in rows})
    if args.unknown not in speakers:
        parser.error(f"--unknown {args.unknown!r} is not an FSDD speaker ({', '.join(speakers)})")
    classifier = Classifier(args.checkpoint, device="cpu")
    vad, min_speech = VoiceActivity(), own("vad_min_speech", classifier)
    embeddings, enrolled = {}, {}
    for r in rows:
        wave = load_audio(args.data / r["file"], classifier.sample_rate)
        embeddings[r["file"]] = classifier.speaker_vector(wave, classifier.sample_rate)
        enrolled[r["file"]] = wave

    rng = np.random.default_rng(args.seed)
    known_probes, unknown_probes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        gallery = Gallery(Path(tmp) / "fsdd.json", checkpoint_identity(args.checkpoint))
        for speaker in speakers:
            files = sorted(r["file"] for r in rows if r["speaker"] == speaker)
            if speaker == args.unknown:
                unknown_probes += [(speaker, f) for f in files]
                continue
            shots = set(rng.choice(len(files), args.shots, replace=False).tolist())
            gallery.enroll(speaker, [enrollment(classifier, vad, min_speech, enrolled[files[i]])
                                     for i in sorted(shots)])
            known_probes += [(speaker, f) for i, f in enumerate(files) if i not in shots]
        # One identification per probe; thresholds only move the unknown line, so score once.
        def best(f):
            embedding, cohort = embeddings[f]
            return gallery.identify(embedding, -np.inf, cohort=cohort)
        known = [(s, best(f)) for s, f in known_probes]
        unknown = [best(f).score for _, f in unknown_probes]

    def rates(threshold):
        right = np.mean([who.name == s and who.score >= threshold for s, who in known])
        false_reject = np.mean([who.score < threshold for _, who in known])
        reject = np.mean([score < threshold for score in unknown])
        return right, false_reject, reject

    closed = np.mean([who.name == s for s, who in known])
    print(f"checkpoint {args.checkpoint} ({checkpoint_identity(args.checkpoint)}), "
          f"trained on: {', '.join(classifier.labels)}")
    print(f"gallery: {len(speakers) - 1} speakers x {args.shots} clips (seed {args.seed}); "
          f"{len(known)} known probes, {len(unknown)} probes of unknown speaker {args.unknown}")
    print(f"closed-set accuracy (best gallery match, no threshold): {closed:.3f}")
    scores = np.array([who.score for _, who in known])
    print(f"best-match cosine: known median {np.median(scores):.3f} (5th pct "
          f"{np.percentile(scores, 5):.3f}), unknown median {np.median(unknown):.3f} "
          f"(95th pct {np.percentile(unknown, 95):.3f})")
    right, false_reject, reject = rates(args.threshold)
    print(f"at threshold {args.threshold}: known identification accuracy {right:.3f}, "
          f"false rejection of known {false_reject:.3f}, unknown rejection {reject:.3f}")
    print()
    print("| threshold | known accuracy | known false rejection | unknown rejection | "
          "balanced (acc + rej) / 2 |")
    print("|---|---|---|---|---|")
    for threshold in sorted(set(SWEEP + [args.threshold])):
        right, false_reject, reject = rates(threshold)
        mark = " **" if threshold == args.threshold else ""
        print(f"| {threshold:.2f}{mark} | {right:.3f} | {false_reject:.3f} | {reject:.3f} | "
              f"{(right + reject) / 2:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
