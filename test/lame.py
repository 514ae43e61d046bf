"""Real MP3 as audio_capture makes it (its `format: mp3`): GStreamer's lamemp3enc, CBR, one
buffer per appsink pull, each with its presentation time. Debian packages gstreamer1.0-tools
and gstreamer1.0-plugins-good (the Makefile installs them)."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

BUFFER = re.compile(r"chain .*?\((\d+) bytes, dts: [^,]*, pts: (\d+):(\d+):(\d+)\.(\d+)")


def lame_buffers(audio: np.ndarray, rate: int = 16000, bitrate: int = 128) -> list[tuple[bytes, int]]:
    """`audio` (mono float) encoded by lamemp3enc: the buffers its appsink would hand over,
    as (bytes, presentation time in ns from the first sample)."""
    if shutil.which("gst-launch-1.0") is None:
        raise RuntimeError("gst-launch-1.0 not found: apt-get install gstreamer1.0-tools "
                           "gstreamer1.0-plugins-good (make test installs them)")
    with tempfile.TemporaryDirectory() as tmp:
        raw, mp3 = Path(tmp) / "in.raw", Path(tmp) / "out.mp3"
        raw.write_bytes(np.round(np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
        # identity prints every buffer it passes (size, pts); filesink keeps the bytes
        result = subprocess.run(
            ["gst-launch-1.0", "-v", "filesrc", f"location={raw}", "!", "rawaudioparse",
             "format=pcm", "pcm-format=s16le", f"sample-rate={rate}", "num-channels=1", "!",
             "audioconvert", "!", "lamemp3enc", "target=bitrate", f"bitrate={bitrate}",
             "cbr=true", "!", "identity", "silent=false", "!", "filesink", f"location={mp3}"],
            capture_output=True, text=True, timeout=120, check=True)
        data = mp3.read_bytes()
    buffers, position = [], 0
    for size, h, m, s, frac in BUFFER.findall(result.stdout):
        pts = ((int(h) * 60 + int(m)) * 60 + int(s)) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])
        buffers.append((data[position:position + int(size)], pts))
        position += int(size)
    assert buffers and position == len(data), "gst-launch printed no buffer sizes"
    return buffers
