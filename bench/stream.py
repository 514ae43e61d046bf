"""The sound_events node under load: real-time factor, latency, skipped windows, memory.

Run after `make build`, in the built environment (as `make test` sets it up):
    source .venv/bin/activate && export AMENT_PREFIX_PATH=$VIRTUAL_ENV && \
      source .ws/install/setup.bash && export FASTDDS_BUILTIN_TRANSPORTS=SHM
    python bench/stream.py --minutes 10 [--checkpoint model.pt] [--mode live|fast]

live: audio published in real time, stamped with the wall clock, as a microphone would;
latency = arrival of /sound_events - capture time of the window's last sample.
fast: audio published as fast as the node accepts it (real-time factor and skips).
Without --checkpoint a DEGram-ResNet18 with random weights is used: speed does not depend on
what the weights learned.
"""
import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" / "ros"))
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(101, 200)))
os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "SHM")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--mode", choices=["live", "fast", "both"], default="both")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--model", default="degram-resnet18")
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--hop", type=float, default=0.25)
    args = parser.parse_args()

    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from ros_harness import AudioSource, Bus, NodeProcess
    from audio_common_msgs.msg import AudioDataStamped
    from degram_core import build_model, save_checkpoint
    from degram_ros.msg import SoundEvents

    tmp = Path(tempfile.mkdtemp(prefix="degram-stream-"))
    checkpoint = args.checkpoint
    if checkpoint is None:
        checkpoint = tmp / "model.pt"
        save_checkpoint(checkpoint, build_model(args.model, 10), [f"class{i}" for i in range(10)])
    rng = np.random.default_rng(0)
    rclpy.init()
    bus = Bus()
    bus.listen(DiagnosticArray, "/diagnostics")
    arrivals = []
    bus.node.create_subscription(SoundEvents, "/sound_events",
                                 lambda m: arrivals.append((time.time_ns(), m)), 100)
    modes = ["live", "fast"] if args.mode == "both" else [args.mode]
    for mode in modes:
        arrivals.clear()
        bus.clear("/diagnostics")
        node = NodeProcess("sound_events", {"checkpoint": str(checkpoint), "window_s": args.window,
                                            "hop_s": args.hop, "threads": 1, "threshold": 0.0},
                           tmp, node_name=f"bench_{mode}")
        bus.wait_for_subscriber(AudioDataStamped, "audio/audio_stamped")
        time.sleep(1.0)
        rss_start = rss_mb(node.process.pid)
        source = AudioSource(bus, start_ns=time.time_ns())
        chunk = 1600  # 0.1 s
        total = int(args.minutes * 60 * 16000)
        started = time.monotonic()
        sent = 0
        while sent < total:
            audio = (0.1 * rng.standard_normal(chunk)).astype(np.float32)
            if mode == "live":
                source.next_ns = time.time_ns() - 100_000_000  # captured over the last 0.1 s
            source.send_bytes(np.round(audio * 32767).astype("<i2").tobytes())
            source.next_ns += 100_000_000
            sent += chunk
            if mode == "live":
                time.sleep(max(0.0, started + sent / 16000 - time.monotonic()))
            else:
                time.sleep(0.002)  # as fast as the subscription takes it without DDS drops
        elapsed = time.monotonic() - started
        time.sleep(3.0)
        rss_end = rss_mb(node.process.pid)
        diag = bus.diagnostics(f"bench_{mode}: inference") or {}
        # the per-second reports while audio flowed (the last ones saw none)
        reports = [{kv.key: kv.value for kv in st.values} for array in bus.messages("/diagnostics")
                   for st in array.status if st.name == f"bench_{mode}: inference"]
        busy = [r for r in reports if float(r["latency_mean_ms"]) > 0]
        rtf = np.mean([float(r["real_time_factor"]) for r in busy]) if busy else float("nan")
        worst = max((float(r["latency_max_ms"]) for r in busy), default=float("nan"))
        mean_ms = np.mean([float(r["latency_mean_ms"]) for r in busy]) if busy else float("nan")
        window_ns = int(args.window * 1e9)
        latencies = np.array([(t - (m.header.stamp.sec * 10 ** 9 + m.header.stamp.nanosec + window_ns)) / 1e6
                              for t, m in arrivals])
        processed, skipped = int(diag.get("windows_processed", 0)), int(diag.get("windows_skipped", 0))
        print(f"\n{mode}: {args.minutes:g} min of audio in {elapsed:.1f} s "
              f"({args.minutes * 60 / elapsed:.1f}x real time), model {Path(checkpoint).name} "
              f"({args.model if args.checkpoint is None else 'given'}), window {args.window} s, "
              f"hop {args.hop} s, 1 thread")
        print(f"  windows published {len(arrivals)}, processed {processed}, skipped {skipped}")
        print(f"  real-time factor (inference time / hop): {rtf:.3f}; inference mean {mean_ms:.1f} ms, "
              f"max {worst:.1f} ms")
        if mode == "live" and len(latencies):
            print(f"  capture-to-publish latency of the window's last sample: "
                  f"p50 {np.percentile(latencies, 50):.1f} ms, p99 {np.percentile(latencies, 99):.1f} ms "
                  f"(target < hop + 50 = {args.hop * 1000 + 50:.0f} ms)")
        print(f"  node RSS {rss_start:.0f} MB at start, {rss_end:.0f} MB at end")
        node.stop()
    bus.close()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
