"""What `degram enroll` (voices) and `degram teach` (sounds) share: a gallery managed from the
command line. The argument check, --list, --identify and the printing are one code; each
command says what an entry is called and how a file becomes an embedding. (The leading
underscore keeps this module out of the command list: cli.py skips it.)"""
from __future__ import annotations

import json


def show(args, doc: dict, lines) -> int:
    """One JSON document with --json, else the readable lines `lines(doc)` gives."""
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        for line in lines(doc):
            print(line)
    return 0


def check_action(args, adding: list[str], verb: str, noun: str) -> None:
    """NAME FILE... (to `verb`: the `noun` arguments) or one of --list, --forget, --identify."""
    managing = args.list or args.forget is not None or args.identify is not None
    if managing and adding:
        raise ValueError(f"{noun} arguments {adding} cannot be combined with "
                         f"--list, --forget or --identify")
    if not managing and len(adding) < 2:
        raise ValueError(f"give NAME FILE... to {verb}, or one of --list, --forget NAME, "
                         f"--identify FILE... (see degram {verb} --help)")


def list_entries(args, gallery, key: str, empty: str) -> int:
    """--list: each entry (under `key`, e.g. "speakers") with its clip count."""
    return show(args, {key: [{"name": n, "clips": gallery.clips(n)} for n in gallery.names()]},
                lambda doc: [f"{e['name']}: {e['clips']} clip(s)" for e in doc[key]]
                or [f"{gallery.path}: {empty}"])


def identify_files(args, gallery, vector_of, threshold: float, key: str, nothing: str) -> int:
    """--identify: each file's best entry and candidates at `threshold`; `vector_of(path)` ->
    (embedding, cohort or None). A file that fails is reported with its error, exit 1."""
    if not len(gallery):
        raise ValueError(f"{gallery.path}: {nothing}")
    results, failed = [], 0
    for path in args.identify:
        try:
            embedding, cohort = vector_of(path)
            found = gallery.identify(embedding, threshold, args.top_k, cohort)
        except ValueError as error:
            results.append({"file": path, "error": str(error)})
            failed += 1
            continue
        results.append({"file": path, key: found.name, "score": round(found.score, 4),
                        "candidates": [{"name": n, "score": round(s, 4)}
                                       for n, s in found.candidates]})

    def lines(doc):
        for r in doc["results"]:
            if "error" in r:
                yield f"{r['file']}: error: {r['error']}"
            else:
                others = "  ".join(f"{c['name']} {c['score']:.3f}" for c in r["candidates"])
                yield f"{r['file']}: {r[key]} {r['score']:.3f}  ({others})"
    show(args, {"threshold": threshold, "results": results}, lines)
    return 1 if failed else 0
