"""degram locate FILE: where each window's sound comes from, from a multichannel recording."""
from __future__ import annotations

import json

HELP = "direction of arrival per window of a multichannel recording (a microphone array's)"


def configure(parser):
    from ..runtime.direction import PRESETS

    parser.add_argument("file", metavar="FILE", help="a multichannel wav/flac, one channel a mic")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--array", choices=sorted(PRESETS), help="a named board's geometry")
    where.add_argument("--mics", help='positions "x,y,z;x,y,z;..." in metres, one per channel, '
                       "in the array's frame (REP-103: x forward, y left, z up); write "
                       '--mics="-0.04,0,0;..." when the first number is negative')
    parser.add_argument("--window-s", type=float, default=1.0, help="window length (s)")
    parser.add_argument("--hop-s", type=float, default=0.5, help="hop between windows (s)")
    parser.add_argument("--checkpoint", help="a sound-event model: each window's label, and "
                        "the frames searched follow it (a voice's speech frames, an event's "
                        "loud ones); without it the label is null")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def run(args) -> int:
    import numpy as np
    import soundfile

    from ..runtime.audio import SAMPLE_RATE, AudioError, resample
    from ..runtime.direction import Locator, geometry, locate_windows

    geom = geometry(args.array or args.mics)
    try:
        data, rate = soundfile.read(args.file, dtype="float32", always_2d=True)  # (N, C)
    except Exception as error:  # soundfile raises several types for missing/corrupt files
        raise AudioError(f"{args.file}: cannot decode audio ({error})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{args.file}: the file holds no samples")
    if data.shape[1] == 1:
        raise AudioError(f"{args.file}: one channel; a direction needs a microphone array")
    audio = geom.select(resample(data, rate, SAMPLE_RATE).T)  # (M, N)
    classifier = None
    if args.checkpoint:
        from ..runtime.classifier import Classifier

        classifier = Classifier(args.checkpoint, device="cpu")
    windows = locate_windows(audio, Locator(geom), args.window_s, args.hop_s, classifier)

    def degrees(radians):
        return round(float(np.rad2deg(radians)), 1)

    if args.json:
        print(json.dumps({"windows": [{
            "start_s": round(w.start_s, 3), "end_s": round(w.end_s, 3),
            "azimuth_deg": degrees(d.azimuth) if (d := w.located.direction) else None,
            "elevation_deg": degrees(d.elevation) if d else None,
            "confidence": round(d.confidence, 3) if d else None,
            "label": w.label} for w in windows]}, indent=2))
        return 0
    print(f"{args.file}: {geom.name} array, {geom.count} mics, {len(windows)} windows")
    for w in windows:
        d = w.located.direction
        where = (f"azimuth {degrees(d.azimuth):6.1f} deg  confidence {d.confidence:.2f}" if d
                 else f"no direction ({w.located.reason})")
        dropped = f"  [left out: {'; '.join(w.located.dropped)}]" if w.located.dropped else ""
        print(f"{w.start_s:7.2f}-{w.end_s:7.2f} s  {w.label or '-':14s} {where}{dropped}")
    return 0
