"""degram predict CHECKPOINT FILE...: top-k labels per audio file."""
from __future__ import annotations

import json

from tqdm import tqdm

HELP = "classify audio files with a checkpoint and print the top-k labels of each"


def configure(parser):
    parser.add_argument("checkpoint", help="a degram checkpoint (.pt)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, ...)")
    parser.add_argument("-k", "--top-k", type=int, default=5, help="labels to print per file")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")


def run(args) -> int:
    import soundfile

    from ..runtime.audio import AudioError, to_mono
    from ..runtime.classifier import Classifier

    classifier = Classifier(args.checkpoint, device=args.device)
    results, failed = [], 0
    for path in tqdm(args.files, unit="file", disable=len(args.files) < 5 or args.json):
        try:
            data, rate = soundfile.read(path, dtype="float32", always_2d=True)
            prediction = classifier.predict(to_mono(data), rate, top_k=args.top_k)
        except (AudioError, RuntimeError, soundfile.LibsndfileError) as error:
            results.append({"file": path, "error": str(error)})
            failed += 1
            continue
        results.append({"file": path, "duration_s": round(len(data) / rate, 3),
                        "top": [{"label": label, "score": round(score, 4)}
                                for label, score in prediction.top]})
    if args.json:
        print(json.dumps({"checkpoint": str(args.checkpoint), "results": results}, indent=2))
    else:
        for result in results:
            if "error" in result:
                print(f"{result['file']}: error: {result['error']}")
                continue
            top = "  ".join(f"{t['label']} {t['score']:.3f}" for t in result["top"])
            print(f"{result['file']} ({result['duration_s']:.2f} s): {top}")
    return 1 if failed else 0
