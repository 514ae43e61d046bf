"""demo: the whole pipeline on a file, in one process, with a live timeline on the terminal.

    ros2 run degram_ros demo [--file F] [--sound-checkpoint C] [--speaker-checkpoint C]
                             [--rate-factor R] [--no-speaker] [--gallery G]

file_player -> audio/audio_stamped -> sound_events -> /sound_events
                                   -> speaker_id   -> /speaker_id     -> printer (this terminal)

The same nodes as `ros2 run`, over real DDS, composed in one process on one
MultiThreadedExecutor (the printer on an executor of its own, so printing never delays audio).
Their parameters are the installed config/<node>.yaml (what
`ros2 run ... --params-file` would use), keyed by node name in one parameters file given to
rclpy, with the options above on top. Times on the timeline are the results' header stamps
relative to the stamp of the file's first sample. When the file has a sibling <name>.json
(as the shipped data/demo/scene.wav has scene.json), its segments are the ground truth shown
beside every result and scored in the summary.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import yaml

from .share import resolve_share_path

DRAIN_S = 1.0      # after the clip's last sound window: stop once nothing came for this long
DRAIN_MAX_S = 20.0  # ... or this long after the file ended, at most


def config_parameters(node: str) -> dict:
    """The ros__parameters of the installed config/<node>.yaml."""
    data = yaml.safe_load(resolve_share_path(f"config/{node}.yaml").read_text())
    return dict(data["/**"]["ros__parameters"])


def load_truth(audio_file: Path) -> list[dict]:
    sidecar = audio_file.with_suffix(".json")
    if not sidecar.is_file():
        return []
    return json.loads(sidecar.read_text())["segments"]


def segment_of(truth: list[dict], start: float, end: float) -> dict | None:
    """The ground-truth segment covering at least half of the window [start, end)."""
    best, overlap = None, 0.0
    for segment in truth:
        o = min(end, segment["end_s"]) - max(start, segment["start_s"])
        if o > overlap:
            best, overlap = segment, o
    return best if best is not None and overlap >= 0.5 * (end - start) else None


def seconds(duration) -> float:
    return duration.sec + duration.nanosec * 1e-9


EXPECTED = {  # what each topic should say over a segment of each kind; None: nothing
    "sound": lambda seg: {"event": seg["label"], "speech": "speech", "quiet": None}[seg["kind"]],
    "speaker": lambda seg: seg["label"] if seg["kind"] == "speech" else None,
}


class Timeline:
    """What the printer node heard, printed as it arrives and summarised at the end.

    Every window is judged against the segment covering most of it: it named the right thing
    (or rightly nothing), something else, or nothing where something was there. speaker_id
    publishes no SpeakerId for a window its gate kept back, so its windows are counted from
    its voice_activity, which it publishes for every window.
    """

    def __init__(self, truth: list[dict], out=sys.stdout):
        self.truth, self.out = truth, out
        self.lock = threading.Lock()
        self.counts = Counter()
        self.heard: dict[str, dict[int, str | None]] = {"sound": {}, "speaker": {}, "voice": {}}
        self.spans: dict[str, dict[int, tuple[float, float]]] = {"sound": {}, "speaker": {}, "voice": {}}
        self.last_result = time.monotonic()
        self.last_end: Counter = Counter()  # end (s into the clip) of each kind's newest window
        self.player = None  # the file_player node: its start_ns is the clip's time zero
        self.sound_labels: list[str] = []  # the sound model's, set once it is loaded
        self.speaker_gated = True  # False: speaker_id's voice-activity gate is off

    def add(self, kind: str, stamp_ns: int, window_s: float, text: str, top: str | None) -> None:
        """`top`: the event or speaker named, None when the window named nothing."""
        with self.lock:
            self.last_result = time.monotonic()
            self.counts[kind] += 1
            start = (stamp_ns - self.player.start_ns) * 1e-9
            end = start + window_s
            self.last_end[kind] = max(self.last_end[kind], end)
            self.heard[kind][stamp_ns] = top
            self.spans[kind][stamp_ns] = (start, end)
            if kind == "voice":
                return
            line = f"{start:6.2f}-{end:6.2f} s  {kind:7s} {text}"
            segment = segment_of(self.truth, start, end)
            if segment is not None:
                line = f"{line:<52s} | truth: {segment['kind']} {segment['label']}"
            print(line, file=self.out, flush=True)

    def judge(self, topic: str, index: int) -> Counter:
        """right / other:<label> / silent counts of one topic's windows over segment `index`."""
        segment, expected = self.truth[index], EXPECTED[topic](self.truth[index])
        windows = "voice" if topic == "speaker" else "sound"
        verdicts = Counter()
        for stamp, (start, end) in self.spans[windows].items():
            if segment_of(self.truth, start, end) is not segment:
                continue
            said = self.heard[topic].get(stamp)
            if said == expected:
                verdicts["right"] += 1
            elif said is None:
                verdicts["silent"] += 1
            else:
                verdicts[f"other:{said}"] += 1
        return verdicts

    def summary(self, speaker: bool) -> str:
        with self.lock:
            topics = ["sound", "speaker"] if speaker else ["sound"]
            lines = ["", "summary: " + ", ".join(f"{self.counts[k]} {k} windows" for k in topics)]
            judged = matched = 0
            false_events = Counter()
            seconds_of = Counter()
            for i, segment in enumerate(self.truth):
                head = (f"  {segment['start_s']:6.2f}-{segment['end_s']:6.2f} s  "
                        f"{segment['kind']:6s} {segment['label']:12s}")
                parts, ok = [], True
                for topic in topics:
                    if (topic == "sound" and segment["kind"] == "speech"
                            and "speech" not in self.sound_labels):
                        parts.append("sound: not judged (the model knows no speech)")
                        continue
                    if (topic == "speaker" and segment["kind"] != "speech"
                            and not self.speaker_gated):
                        parts.append("speaker: not judged (voice-activity gate off)")
                        continue
                    verdicts = self.judge(topic, i)
                    total = sum(verdicts.values())
                    others = Counter({k[6:]: n for k, n in verdicts.items() if k.startswith("other:")})
                    named = ", ".join(f"{label} {n}" for label, n in others.most_common(3))
                    expected = EXPECTED[topic](segment)
                    right = "rightly silent" if expected is None else "right"
                    parts.append(f"{topic}: {verdicts['right']}/{total} {right}, "
                                 f"{sum(others.values())} other{f' ({named})' if named else ''}, "
                                 f"{verdicts['silent']} silent")
                    wrong = sum(others.values())
                    # Something to hear: heard, and named right more often than wrongly (a
                    # dog barks now and then: the windows between barks are rightly silent).
                    # Nothing to hear: at most one window in ten named anything.
                    if expected is None:
                        ok &= total > 0 and wrong * 10 <= total
                    else:
                        ok &= 0 < verdicts["right"] and wrong < verdicts["right"]
                    if topic == "sound" and segment["kind"] in ("speech", "quiet"):
                        false_events[segment["kind"]] += wrong
                        seconds_of[segment["kind"]] += segment["end_s"] - segment["start_s"]
                judged += 1
                matched += ok
                lines.append(f"{head} {' | '.join(parts)}  {'MATCH' if ok else 'miss'}")
            for kind, what in (("speech", "plain speech"), ("quiet", "room noise")):
                if seconds_of[kind]:
                    lines.append(f"false events: {false_events[kind]} in {seconds_of[kind]:.1f} s "
                                 f"of {what}")
            if self.truth:
                lines.append(f"matched {matched}/{judged} segments")
            return "\n".join(lines)


def make_printer(timeline: Timeline, speaker: bool):
    from rclpy.node import Node
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    from degram_ros.msg import SoundEvents, SpeakerId, VoiceActivity

    node = Node("demo_printer")
    # Best effort and deep. Reliable, the result publishers (in the nodes' inference threads)
    # waited on this printer's acknowledgements, the nodes stalled and skipped windows; on
    # one machine nothing is lost while the queue holds (every result is counted below).
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=200,
                     reliability=ReliabilityPolicy.BEST_EFFORT)

    def stamp_ns(msg) -> int:
        return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec

    def on_events(msg: SoundEvents) -> None:
        text = " · ".join(f"{e.label} {e.score:.2f}" for e in msg.events) or "-"
        timeline.add("sound", stamp_ns(msg), seconds(msg.window), text,
                     msg.events[0].label if msg.events else None)

    def on_speaker(msg: SpeakerId) -> None:
        timeline.add("speaker", stamp_ns(msg), seconds(msg.window),
                     f"{msg.speaker} {msg.score:.2f}", msg.speaker)

    def on_voice(msg: VoiceActivity) -> None:
        timeline.add("voice", stamp_ns(msg), seconds(msg.window), "",
                     "speech" if msg.speech else None)

    node.create_subscription(SoundEvents, "sound_events", on_events, qos)
    if speaker:
        node.create_subscription(SpeakerId, "speaker_id", on_speaker, qos)
        node.create_subscription(VoiceActivity, "voice_activity", on_voice, qos)
    return node


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="demo", description="file_player + sound_events + speaker_id in one process, "
        "with a live timeline of what they hear")
    parser.add_argument("--file", help="audio file (default: the shipped data/demo/scene.wav; "
                        "relative paths are looked up in share/degram_ros)")
    parser.add_argument("--sound-checkpoint", help="sound model (default: config/sound_events.yaml's)")
    parser.add_argument("--speaker-checkpoint", help="speaker model (default: config/speaker_id.yaml's)")
    parser.add_argument("--rate-factor", type=float, default=1.0,
                        help="playback speed, 1 = real time (default)")
    parser.add_argument("--no-speaker", action="store_true", help="sound events only")
    parser.add_argument("--gallery", help="speaker gallery of enrolled speakers (default: a "
                        "temporary one, into which the scene's enroll clips are enrolled)")
    parser.add_argument("--param", action="append", default=[], metavar="NODE.NAME=VALUE",
                        help="set a node parameter, e.g. speaker_id.min_speech_fraction=0.5")
    return parser.parse_args(argv)


def set_params(parameters: dict, pairs: list[str]) -> None:
    for pair in pairs:
        key, sep, value = pair.partition("=")
        node, dot, name = key.partition(".")
        if not (sep and dot) or node not in parameters:
            raise SystemExit(f"demo: --param expects NODE.NAME=VALUE with NODE one of "
                             f"{sorted(parameters)}, got {pair!r}")
        parameters[node][name] = yaml.safe_load(value)


def enroll_scene(scene_file: Path, checkpoint: Path, gallery_path: Path, window_s: float,
                 min_speech_fraction: float) -> list[str]:
    """Enroll the speakers the scene's sidecar lists ("enroll": {name: clip}) into a new
    gallery, as ~/enroll would (galleries.enrollment.voice_embedding)."""
    from degram_core.galleries.enrollment import voice_embedding
    from degram_core.galleries.gallery import Gallery, checkpoint_identity
    from degram_core.runtime.audio import load_audio
    from degram_core.runtime.classifier import Classifier
    from degram_core.runtime.operating_points import resolve
    from degram_core.runtime.vad import VoiceActivity

    sidecar = scene_file.with_suffix(".json")
    clips = json.loads(sidecar.read_text()).get("enroll", {}) if sidecar.is_file() else {}
    if not clips:
        return []
    classifier = Classifier(checkpoint, device="cpu")
    gallery = Gallery(gallery_path, checkpoint_identity(checkpoint))
    min_speech = resolve("vad_min_speech", min_speech_fraction, classifier)
    vad = VoiceActivity() if min_speech > 0 else None
    lines = []
    for name, clip in clips.items():
        wave = load_audio(scene_file.parent / clip, classifier.sample_rate)
        embedding, speech_s = voice_embedding(classifier, vad, wave, classifier.sample_rate,
                                              window_s, min_speech)
        gallery.enroll(name, embedding)
        lines.append(f"enrolled {name}: {speech_s:.1f} s of speech from {clip}")
    return lines


def demo_parameters(args) -> dict:
    """Each node's parameters: its installed config/<node>.yaml, the options on top."""
    speaker = not args.no_speaker
    parameters = {"file_player": config_parameters("file_player"),
                  "sound_events": config_parameters("sound_events")}
    if speaker:
        parameters["speaker_id"] = config_parameters("speaker_id")
    player = parameters["file_player"]
    # no audio before every inference node listens: the timeline starts at the first sample
    player.update(loop=False, rate_factor=args.rate_factor, wait_for_subscribers=1 + speaker)
    if args.file:
        player["file"] = str(Path(args.file).absolute()) if Path(args.file).exists() else args.file
    if args.sound_checkpoint:
        parameters["sound_events"]["checkpoint"] = str(Path(args.sound_checkpoint).absolute())
    if speaker and args.speaker_checkpoint:
        parameters["speaker_id"]["checkpoint"] = str(Path(args.speaker_checkpoint).absolute())
    set_params(parameters, args.param)
    return parameters


def prepare_gallery(parameters: dict, args, scene_file: Path, tmp: str) -> None:
    """The speaker node's gallery: the one asked for, or a new one holding only the scene's
    speakers (a user's enrolled speakers do not change the demo)."""
    sp = parameters["speaker_id"]
    if args.gallery:
        sp["gallery"] = str(Path(args.gallery).expanduser().absolute())
        return
    sp["gallery"] = str(Path(tmp) / "gallery.json")
    for line in enroll_scene(scene_file, resolve_share_path(sp["checkpoint"]),
                             Path(sp["gallery"]), sp["window_s"],
                             sp.get("min_speech_fraction", -1.0)):
        print(f"demo: {line}", flush=True)


def start_nodes(timeline: Timeline, speaker: bool, nodes: list) -> tuple[list, object]:
    """(executors, the player); into `nodes` (each as soon as it exists, so that a failure
    stops those before it): the inference nodes configured and active, the printer, and the
    player last (its start delay lets the others match it before audio flows)."""
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

    from .file_player_node import FilePlayerNode
    from .sound_events_node import SoundEventsNode

    nodes.append(SoundEventsNode("sound_events"))
    if speaker:
        from .speaker_id_node import SpeakerIdNode
        nodes.append(SpeakerIdNode("speaker_id"))
    for node in list(nodes):  # lifecycle nodes: configure + activate, as autostart does
        node.start_up()
    timeline.sound_labels = nodes[0].classifier.labels  # loaded at configure
    timeline.speaker_gated = speaker and nodes[1].min_speech() > 0
    printer = make_printer(timeline, speaker)
    nodes.append(printer)
    playing = FilePlayerNode("file_player")
    nodes.append(playing)
    timeline.player = playing
    executor = MultiThreadedExecutor(num_threads=4)
    for node in nodes:
        if node is not printer:
            executor.add_node(node)
    # The printer spins apart: on the nodes' executor its subscriptions stalled the player's
    # timer for up to 0.9 s, audio came in bursts and at 4x the nodes skipped most windows
    # (measured: 6-16 of 47 sound windows with it inside).
    printer_executor = SingleThreadedExecutor()
    printer_executor.add_node(printer)
    return [executor, printer_executor], playing


def play_to_the_end(playing, timeline: Timeline, executors: list, sound: dict) -> None:
    """Spin until the clip's last full sound window has come and nothing more does."""
    import rclpy

    # The clip's last full sound window always comes, even from a node that fell behind and
    # skipped some (it jumps to the newest): wait for it, not for a lull, which a loaded
    # machine makes at any time.
    window, hop = sound["window_s"], sound["hop_s"]
    duration = playing.total / playing.rate
    last_end = int((duration - window) / hop + 1e-9) * hop + window if duration >= window else 0.0
    # Each executor spins on a thread of its own; this one only watches for the end.
    for spinning in executors:
        threading.Thread(target=spinning.spin, daemon=True).start()
    finished_at = None
    while rclpy.ok():
        time.sleep(0.05)
        if playing.finished.is_set():
            now = time.monotonic()
            finished_at = finished_at or now
            caught_up = timeline.last_end["sound"] >= last_end - 0.01
            quiet = now - max(timeline.last_result, finished_at)
            if (caught_up and quiet >= DRAIN_S) or now - finished_at >= DRAIN_MAX_S:
                break


def main(argv=None) -> None:
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from .node_runner import StartupError

    args = parse_args(sys.argv[1:] if argv is None else argv)
    speaker = not args.no_speaker
    parameters = demo_parameters(args)
    scene_file = resolve_share_path(parameters["file_player"]["file"])
    truth = load_truth(scene_file)
    timeline = Timeline(truth)
    with tempfile.TemporaryDirectory(prefix="degram_demo_") as tmp:
        if speaker:
            prepare_gallery(parameters, args, scene_file, tmp)
        # One parameters file keyed by node name, as a launch file would pass it.
        params_file = Path(tmp) / "demo.yaml"
        params_file.write_text(yaml.safe_dump(
            {name: {"ros__parameters": values} for name, values in parameters.items()}))
        rclpy.init(args=["--ros-args", "--params-file", str(params_file)])
        nodes, executors, code = [], [], 0
        try:
            executors, playing = start_nodes(timeline, speaker, nodes)
            print(f"demo: {playing.path.name} ({playing.total / playing.rate:.1f} s) at "
                  f"{args.rate_factor:g}x; sound model {parameters['sound_events']['checkpoint']}"
                  + (f", speaker model {parameters['speaker_id']['checkpoint']}" if speaker else ""),
                  flush=True)
            if truth:
                print("truth: " + ", ".join(f"{s['start_s']:.2f}-{s['end_s']:.2f} {s['label']}"
                                            for s in truth), flush=True)
            play_to_the_end(playing, timeline, executors, parameters["sound_events"])
            print(timeline.summary(speaker), flush=True)
        except StartupError as error:
            print(f"demo: {error}", file=sys.stderr, flush=True)
            code = 2
        except (KeyboardInterrupt, ExternalShutdownException):
            print(timeline.summary(speaker), flush=True)
            code = 130
        finally:
            stop(nodes, executors)
    if code:
        raise SystemExit(code)


def stop(nodes: list, executors: list) -> None:
    import rclpy

    for spinning in executors:  # their threads must stop before the nodes go
        spinning.shutdown(timeout_sec=5.0)
    for node in reversed(nodes):
        if hasattr(node, "stop"):
            node.stop()
        node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
