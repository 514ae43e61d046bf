"""degram prepare SOURCE ...: write a training manifest from a dataset's own layout."""
from __future__ import annotations

from collections import Counter

HELP = "write a CSV manifest from ESC-10/50, FSDD, speechocean762, VGGSound, VoxCeleb1 or class folders"


def configure(parser):
    sub = parser.add_subparsers(dest="source", required=True, metavar="SOURCE")
    p = sub.add_parser("folder", help="ROOT/<class>/<files>")
    p.add_argument("root")
    p = sub.add_parser("esc", help="ESC-50 or ESC-10: ROOT/audio and ROOT/meta/esc50.csv")
    p.add_argument("root")
    p.add_argument("--esc10", action="store_true", help="keep only the ESC-10 subset")
    p = sub.add_parser("fsdd", help="Free Spoken Digit Dataset recordings folder")
    p.add_argument("root")
    p.add_argument("--label", choices=["speaker", "digit"], default="speaker")
    p = sub.add_parser("speechocean762", help="speechocean762: ROOT/meta.csv and its audio")
    p.add_argument("root")
    p = sub.add_parser("vggsound", help="vggsound.csv and a folder of extracted audio")
    p.add_argument("csv")
    p.add_argument("audio_dir")
    p = sub.add_parser("voxceleb1", help="iden_split.txt and the wav folder")
    p.add_argument("iden_split")
    p.add_argument("wav_root")
    for p in sub.choices.values():
        p.add_argument("-o", "--output", required=True, help="manifest CSV to write")


def run(args) -> int:
    from .. import data

    build = {
        "folder": lambda: data.from_folder(args.root),
        "esc": lambda: data.from_esc(args.root, esc10_only=args.esc10),
        "fsdd": lambda: data.from_fsdd(args.root, label=args.label),
        "speechocean762": lambda: data.from_speechocean762(args.root),
        "vggsound": lambda: data.from_vggsound(args.csv, args.audio_dir),
        "voxceleb1": lambda: data.from_voxceleb1(args.iden_split, args.wav_root),
    }[args.source]
    items = build()
    data.write_manifest(args.output, items)
    counts = Counter(item.label for item in items)
    print(f"{args.output}: {len(items)} clips, {len(counts)} labels "
          f"({min(counts.values())}-{max(counts.values())} per label)")
    return 0
