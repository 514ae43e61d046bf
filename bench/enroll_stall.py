"""Do enrollments stall the audio? The installed speaker_id node hears a clip in real time while
20 enrollment requests arrive at once; we time the results it publishes.

    make build && source the workspace (as `make test` does), then
    python bench/enroll_stall.py [--calls 20] [--recent-seconds 3] [--checkpoint PATH]

Prints the longest gap between consecutive results before the requests (the baseline), while
they are served, and the time the requests took. The node runs as `ros2 run` runs it (its
multi-threaded executor, services in a callback group of their own); the audio comes from
this process over DDS, 0.1 s messages paced by the clock.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "SHM")

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
import soundfile  # noqa: E402
import yaml  # noqa: E402
from ament_index_python.packages import get_package_prefix, get_package_share_directory  # noqa: E402
from audio_common_msgs.msg import AudioData, AudioDataStamped  # noqa: E402
from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from degram_core.runtime.codecs import encode_s16le  # noqa: E402
from degram_ros.msg import SpeakerId  # noqa: E402
from degram_ros.srv import Enroll  # noqa: E402

NS = "/enroll_bench"


def longest_gap(times: list[float], start: float, end: float) -> float:
    inside = [t for t in times if start <= t <= end]
    edges = [start, *inside, end]
    return max(b - a for a, b in zip(edges, edges[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--recent-seconds", type=float, default=3.0,
                        help="each request enrolls from the last N seconds the node heard")
    parser.add_argument("--checkpoint", default="models/speaker_id.pt")
    parser.add_argument("--baseline-s", type=float, default=8.0)
    args = parser.parse_args()

    share = Path(get_package_share_directory("degram_ros"))
    clip, rate = soundfile.read(share / "data/demo/scene.wav", dtype="float32")
    assert rate == 16000, rate
    config = yaml.safe_load((share / "config/speaker_id.yaml").read_text())["/**"]["ros__parameters"]
    hop_s = config["hop_s"]

    tmp = Path(tempfile.mkdtemp(prefix="enroll_bench_"))
    params = {**config, "checkpoint": args.checkpoint, "gallery": str(tmp / "gallery.json"),
              "min_rms_db": -200.0, "audio_reliability": "reliable"}
    (tmp / "params.yaml").write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
    exe = Path(get_package_prefix("degram_ros")) / "lib/degram_ros/speaker_id"
    log = open(tmp / "speaker_id.log", "w")
    node_process = subprocess.Popen([str(exe), "--ros-args", "--params-file", str(tmp / "params.yaml"),
                                     "-r", f"__ns:={NS}"], stdout=log, stderr=subprocess.STDOUT)

    rclpy.init()
    node = rclpy.create_node("enroll_bench")
    arrivals: list[float] = []
    node.create_subscription(SpeakerId, f"{NS}/speaker_id",
                             lambda msg: arrivals.append(time.monotonic()), 100)
    audio_pub = node.create_publisher(AudioDataStamped, f"{NS}/audio/audio_stamped",
                                      QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    # as deep as the calls sent at once: a default client (depth 10) loses the rest
    client = node.create_client(Enroll, f"{NS}/speaker_id/enroll",
                                qos_profile=QoSProfile(depth=max(10, args.calls),
                                                       reliability=ReliabilityPolicy.RELIABLE))
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    stop = threading.Event()

    def play() -> None:
        """0.1 s messages in real time, the clip looped, stamped by sample count."""
        chunk, sent, t0 = 1600, 0, time.monotonic()
        while not stop.is_set():
            due = t0 + (sent + chunk) / rate
            time.sleep(max(0.0, due - time.monotonic()))
            start = sent % (len(clip) - chunk)
            ns = 1_000_000_000_000 + round(sent * 1e9 / rate)
            audio_pub.publish(AudioDataStamped(
                header=Header(stamp=Time(sec=ns // 10 ** 9, nanosec=ns % 10 ** 9), frame_id="mic"),
                audio=AudioData(data=encode_s16le(clip[start:start + chunk]))))
            sent += chunk

    try:
        if not client.wait_for_service(timeout_sec=60):
            sys.exit(f"no enroll service; node log: {(tmp / 'speaker_id.log').read_text()}")
        while audio_pub.get_subscription_count() == 0:
            time.sleep(0.05)
        threading.Thread(target=play, daemon=True).start()
        # the first windows, then the baseline
        while len(arrivals) < 3:
            time.sleep(0.05)
        base_start = time.monotonic()
        time.sleep(args.baseline_s)
        base_end = time.monotonic()

        sent_at = time.monotonic()
        futures = [client.call_async(Enroll.Request(name=f"speaker{i % 4}",
                                                    recent_seconds=args.recent_seconds))
                   for i in range(args.calls)]
        done_at: dict[int, float] = {}
        deadline = sent_at + 120
        while len(done_at) < len(futures):
            if time.monotonic() > deadline:
                sys.exit(f"only {len(done_at)} of {len(futures)} requests answered in 120 s")
            for i, future in enumerate(futures):
                if future.done() and i not in done_at:
                    done_at[i] = time.monotonic()
            time.sleep(0.001)
        all_done = time.monotonic()
        time.sleep(2 * hop_s)  # a result due at the end is not a gap
        ok = sum(f.result().success for f in futures)
        replies = sorted(t - sent_at for t in done_at.values())
        print(f"speaker_id ({args.checkpoint}), window {config['window_s']} s, hop {hop_s} s; "
              f"{args.calls} concurrent enrollments from the last {args.recent_seconds:g} s each")
        print(f"  baseline ({args.baseline_s:g} s, no requests): longest gap between results "
              f"{longest_gap(arrivals, base_start, base_end):.3f} s")
        print(f"  during the requests ({all_done - sent_at:.2f} s until the last reply, "
              f"{ok}/{args.calls} enrolled): longest gap "
              f"{longest_gap(arrivals, sent_at, all_done):.3f} s")
        print(f"  replies after {replies[0]:.3f} s (first), {np.median(replies):.3f} s "
              f"(median), {replies[-1]:.3f} s (last)")
    finally:
        stop.set()
        node_process.send_signal(signal.SIGINT)
        try:
            node_process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            node_process.kill()
        log.close()
        executor.shutdown()
        spinner.join(timeout=5)
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
