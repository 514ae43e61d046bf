"""Where a sound comes from: direction of arrival per window from a microphone array.

Audio is (channels, samples) at 16 kHz. The search is pyroomacoustics' own (NormMUSIC by
default, SRP-PHAT or MUSIC on request); what this module adds is *which* part of a window it
looks at and *when* it answers at all:

- frames: only the 32 ms frames of what was heard (the voice gate's speech frames for a
  speaker, an event's loud non-speech frames for a sound), one flag per 512 samples as
  vad.VoiceActivity.frames gives them; silence, the other source and the reverberant tail
  between syllables are left out instead of voting for a direction;
- band: of 300-4000 Hz, only the bins where those frames stand 3 dB over the window's other
  frames (what was heard, without the bins another source or the noise holds);
- a confidence, and no direction (None, with a reason) where there is nothing to trust: too
  few active frames, a spatial spectrum without a clear peak, too few working channels.

Frame of reference (ROS REP-103): positions are metres in the array's frame, x forward,
y left, z up. Azimuth is radians counter-clockwise from +x, in (-pi, pi]. The search runs in
the horizontal plane: elevation is reported as 0. A planar array (every preset) cannot tell
a source above it from one below it, and a source well above the plane is found at its
azimuth with a wider peak. A linear array (PS3 Eye) cannot tell front from back either: its
azimuth is searched on the half circle facing +x (or +y for an array along x).

bench/direction.py measures it and chose the defaults; docs/direction.md has the figures.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .audio import SAMPLE_RATE
from .vad import FRAME

SPEED_OF_SOUND = 343.0  # m/s, at about 20 degrees C
HOP = FRAME // 2  # STFT frames of 512 samples every 256: two per voice-gate frame
METHODS = ("SRP", "NormMUSIC", "MUSIC")
MIN_SPACING = 0.001  # m: two microphones closer than this are one point
DEAD_BELOW_DB = 40.0  # a channel this far under the median channel's level is dead
MIN_OTHER_FRAMES = 8  # STFT frames outside the mask needed to tell which bins stand out
MIN_BINS = 8  # fewer bins than this standing out: search the whole band
LOUD_MARGIN_DB = 6.0  # a frame this far over the noise floor holds a sound
FLOOR_PERCENTILE = 10  # a recording's noise floor: this percentile of its frame levels


class GeometryError(ValueError):
    """Microphone positions that cannot locate anything; the message says why."""


# Named boards. Positions in metres in the board's own frame as the cited source gives it, one
# row per microphone channel in the order the driver delivers them. `channels`: which channels
# of the device's stream hold those microphones, when it delivers more (loopback, processed
# audio). The ODAS configurations are those its authors ship for each board (introlab/odas,
# config/odaslive/*.cfg), whose frame is x forward, y left, z up like REP-103.
PRESETS: dict[str, dict] = {
    # ReSpeaker 4-Mic Array for Raspberry Pi: four mics on a 40.5 mm radius circle, at 90
    # degree steps starting at -x (odas respeaker_4_mic_array.cfg).
    "respeaker_4mic": {"positions": [(-0.0405, 0.0, 0.0), (0.0, 0.0405, 0.0),
                                     (0.0405, 0.0, 0.0), (0.0, -0.0405, 0.0)]},
    # ReSpeaker 6-Mic Circular Array for Raspberry Pi: six mics on a 46.3 mm radius circle
    # (odas respeaker_6_mic_array.cfg; its driver gives 8 channels, the last two loopback).
    "respeaker_6mic": {"positions": [(-0.0232, 0.0401, 0.0), (-0.0463, 0.0, 0.0),
                                     (-0.0232, -0.0401, 0.0), (0.0232, -0.0401, 0.0),
                                     (0.0463, 0.0, 0.0), (0.0232, 0.0401, 0.0)],
                       "device_channels": 8, "channels": (0, 1, 2, 3, 4, 5)},
    # ReSpeaker USB Mic Array v2.0 (USB 4-mic): 32 mm radius (odas respeaker_usb_4_mic_array
    # .cfg); its 6-channel firmware gives processed audio on channel 0, the four raw mics on
    # 1-4 and playback on 5 (respeaker/usb_4_mic_array README).
    "respeaker_usb_4mic": {"positions": [(-0.032, 0.0, 0.0), (0.0, -0.032, 0.0),
                                         (0.032, 0.0, 0.0), (0.0, 0.032, 0.0)],
                           "device_channels": 6, "channels": (1, 2, 3, 4)},
    # MATRIX Voice: eight mics, one at the centre and seven on a 38 mm radius circle
    # (odas matrix_voice.cfg).
    "matrix_voice": {"positions": [(0.0, 0.0, 0.0), (-0.038133, 0.003576, 0.0),
                                   (-0.020980, 0.032043, 0.0), (0.011971, 0.036381, 0.0),
                                   (0.035908, 0.013323, 0.0), (0.032805, -0.019767, 0.0),
                                   (0.004999, -0.037972, 0.0), (-0.026571, -0.027584, 0.0)]},
    # PlayStation 3 Eye camera: four mics in a line along y, 2 cm apart, facing +x
    # (odas pseye.cfg). Linear: azimuth only on the half circle in front.
    "ps3_eye": {"positions": [(0.0, -0.030, 0.0), (0.0, 0.010, 0.0),
                              (0.0, -0.010, 0.0), (0.0, 0.030, 0.0)]},
    # Azure Kinect DK: seven mics, one at the centre and six at 60 degree steps on a circle
    # (Microsoft's hardware specification, "Microphone array"). APPROXIMATE: the radius (40 mm)
    # and the angle of the first outer mic are read off its drawing, not a table, and the
    # channel order is not verified here; measure yours and give --mics / mic_positions.
    "azure_kinect": {"positions": [(0.0, 0.0, 0.0)] + [
        (0.040 * np.cos(np.pi / 3 * k), 0.040 * np.sin(np.pi / 3 * k), 0.0) for k in range(6)]},
}


@dataclass(frozen=True)
class Geometry:
    """Microphone positions (M, 3) in metres, REP-103 array frame; `channels`: which channels
    of a stream of `device_channels` hold them (None: the stream is exactly these M)."""
    positions: np.ndarray
    name: str = "custom"
    device_channels: int | None = None
    channels: tuple[int, ...] | None = None

    def __post_init__(self):
        positions = np.asarray(self.positions, dtype=np.float64)
        if positions.ndim != 2 or positions.shape[1] != 3:
            raise GeometryError(f"microphone positions must be (M, 3) metres, got shape "
                                f"{positions.shape}")
        if len(positions) < 2:
            raise GeometryError(f"a direction needs at least 2 microphones, got {len(positions)}")
        if not np.isfinite(positions).all():
            raise GeometryError("microphone positions hold NaN or infinity")
        gaps = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
        gaps[np.diag_indices(len(positions))] = np.inf
        i, j = np.unravel_index(np.argmin(gaps), gaps.shape)
        if gaps[i, j] < MIN_SPACING:
            raise GeometryError(f"microphones {min(i, j)} and {max(i, j)} are at the same point "
                                f"({gaps[i, j] * 1000:.2f} mm apart)")
        if horizontal_rank(positions) == 0:
            raise GeometryError("the microphones differ only in height: a vertical line cannot "
                                "tell one azimuth from another")
        object.__setattr__(self, "positions", positions)

    @property
    def count(self) -> int:
        return len(self.positions)

    @property
    def linear(self) -> bool:
        """All microphones on one horizontal line: front and back look the same."""
        return horizontal_rank(self.positions) == 1

    def select(self, audio: np.ndarray) -> np.ndarray:
        """(C, N) from the device -> (M, N) of the microphones; GeometryError on a mismatch."""
        audio = np.asarray(audio)
        if audio.ndim != 2:
            raise GeometryError(f"expected audio of shape (channels, samples), got {audio.shape}")
        if audio.shape[0] == self.count:
            return audio
        if self.channels is not None and audio.shape[0] == self.device_channels:
            return audio[list(self.channels)]
        expected = f"{self.count}" + (f" or {self.device_channels}" if self.channels else "")
        raise GeometryError(f"the audio has {audio.shape[0]} channels but the {self.name} "
                            f"geometry has {expected}")


def horizontal_rank(positions: np.ndarray) -> int:
    """0 (one point in x-y), 1 (a line) or 2 (a plane's worth of spread) of the mics' x-y."""
    xy = positions[:, :2] - positions[:, :2].mean(axis=0)
    return int(np.linalg.matrix_rank(xy, tol=MIN_SPACING / 2))


def geometry(spec: str | np.ndarray | list) -> Geometry:
    """A preset name (PRESETS), positions "x,y,z;x,y,z;..." in metres, or an (M, 3) array."""
    if isinstance(spec, str) and spec in PRESETS:
        preset = PRESETS[spec]
        return Geometry(np.array(preset["positions"]), spec, preset.get("device_channels"),
                        preset.get("channels"))
    if isinstance(spec, str):
        try:
            rows = [[float(v) for v in point.split(",")] for point in spec.split(";") if point.strip()]
        except ValueError:
            raise GeometryError(f"{spec!r} is neither a preset ({', '.join(PRESETS)}) nor "
                                f"positions 'x,y,z;x,y,z;...' in metres") from None
        if not rows or any(len(r) != 3 for r in rows):
            raise GeometryError(f"{spec!r}: each microphone needs three numbers x,y,z (metres)")
        return Geometry(np.array(rows))
    return Geometry(np.asarray(spec, dtype=np.float64))


@dataclass(frozen=True)
class Direction:
    azimuth: float  # radians counter-clockwise from +x, (-pi, pi]
    elevation: float  # radians above the x-y plane (0: the search is horizontal)
    confidence: float  # peak over mean of the spatial spectrum, minus 1 (0: flat); its scale
                       # is the method's (Locator's min_confidence was chosen for NormMUSIC)

    def unit_vector(self) -> np.ndarray:
        """(3,) towards the source in the array frame."""
        c = np.cos(self.elevation)
        return np.array([c * np.cos(self.azimuth), c * np.sin(self.azimuth),
                         np.sin(self.elevation)])


@dataclass(frozen=True)
class Located:
    """One window's answer: a direction, or None and why not."""
    direction: Direction | None
    reason: str = ""  # empty when there is a direction
    frames: int = 0  # STFT frames the search used
    dropped: tuple[str, ...] = field(default=())  # channels left out, each with its reason


def frame_mask(active: np.ndarray | None, samples: int) -> np.ndarray:
    """Voice-gate frames (one flag per 512 samples) -> STFT frames (512 every 256), an STFT
    frame being active when every gate frame it overlaps is."""
    count = max(0, (samples - FRAME) // HOP + 1)
    if active is None:
        return np.ones(count, dtype=bool)
    active = np.asarray(active, dtype=bool)
    first = np.arange(count) * HOP // FRAME
    last = (np.arange(count) * HOP + FRAME - 1) // FRAME
    inside = last < len(active)
    mask = np.zeros(count, dtype=bool)
    mask[inside] = active[first[inside]] & active[last[inside]]
    return mask


def frame_levels(audio: np.ndarray) -> np.ndarray:
    """(M, N) -> (N // 512,) level in dB of each voice-gate frame, over the channels."""
    audio = np.asarray(audio, dtype=np.float64)
    count = audio.shape[-1] // FRAME
    frames = audio[..., :count * FRAME].reshape(*audio.shape[:-1], count, FRAME)
    power = np.nanmean(frames ** 2, axis=(-1,) if audio.ndim == 1 else (0, -1))
    return 10 * np.log10(power + 1e-12)


def loud_frames(audio: np.ndarray, floor_db: float, margin_db: float = LOUD_MARGIN_DB) -> np.ndarray:
    """(N // 512,) flags of the frames `margin_db` over the room's noise floor (e.g. a low
    percentile of frame_levels over the last seconds)."""
    return frame_levels(audio) > floor_db + margin_db


def heard_frames(speech: np.ndarray, loud: np.ndarray) -> dict[str, np.ndarray]:
    """The frames of what was heard in one window, one flag per 512 samples: a voice's are the
    voice gate's speech frames, an event's its loud frames that are not speech (so a dog
    barking over a voice is searched where the voice is not)."""
    n = min(len(speech), len(loud))
    speech, loud = np.asarray(speech[:n], dtype=bool), np.asarray(loud[:n], dtype=bool)
    return {"speech": speech, "event": loud & ~speech}


class Locator:
    """`Locator(geometry("respeaker_4mic")).locate(audio, active)` -> Located.

    method: a pyroomacoustics DOA algorithm (METHODS). band: (low, high) Hz searched.
    contrast_db: of that band, only the bins where the active frames stand this far over the
    window's other frames (None: all of it). min_frames: fewer active STFT frames than this
    give no direction. min_confidence: nor does a spatial spectrum whose peak-to-mean minus 1
    is under this. The defaults were chosen on the validation rooms of bench/direction.py
    (NormMUSIC with the 3 dB band over SRP-PHAT and over the whole band: the most windows
    given a direction at 95 % within 15 degrees, one source and two; docs/direction.md).
    """

    def __init__(self, geom: Geometry, sample_rate: int = SAMPLE_RATE, method: str = "NormMUSIC",
                 band: tuple[float, float] = (300.0, 4000.0), grid_step_deg: float = 2.0,
                 min_frames: int = 6, min_confidence: float = 0.09,
                 contrast_db: float | None = 3.0):
        if method not in METHODS:
            raise ValueError(f"unknown DOA method {method!r}; choose from {list(METHODS)}")
        self.geometry, self.rate, self.method = geom, sample_rate, method
        self.band, self.min_frames, self.min_confidence = band, min_frames, min_confidence
        self.contrast_db = contrast_db
        if geom.linear:
            axis = geom.positions[-1, :2] - geom.positions[0, :2]
            normal = np.arctan2(axis[0], -axis[1])  # axis turned by -90 degrees
            if np.cos(normal) < -1e-9 or (abs(np.cos(normal)) <= 1e-9 and np.sin(normal) < 0):
                normal += np.pi  # the side facing +x (or +y for an array along x)
            half = np.deg2rad(np.arange(-90 + grid_step_deg / 2, 90, grid_step_deg))
            self.azimuths = np.angle(np.exp(1j * (normal + half)))
        else:
            self.azimuths = np.deg2rad(np.arange(0, 360, grid_step_deg))
        self._searches: dict[tuple[int, ...], object] = {}
        self.window = np.hanning(FRAME + 1)[:FRAME]  # periodic Hann

    def search(self, used: tuple[int, ...]):
        """The pyroomacoustics DOA object for a subset of the microphones, built once: its
        steering vectors are precomputed (4 ms instead of 7-12 ms a search at 4 mics)."""
        if used not in self._searches:
            import pyroomacoustics as pra

            mics = self.geometry.positions[list(used), :2].T  # (2, M): horizontal search
            doa = pra.doa.algorithms[self.method](mics, self.rate, FRAME, c=SPEED_OF_SOUND,
                                                  num_src=1, azimuth=np.sort(self.azimuths))
            doa.mode_vec = pra.doa.ModeVector(mics, self.rate, FRAME, SPEED_OF_SOUND, doa.grid,
                                              precompute=True)
            self._searches[used] = doa
        return self._searches[used]

    def usable(self, audio: np.ndarray) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """Channels fit to search with, and the reasons the others are not (NaN, dead)."""
        finite = np.isfinite(audio).all(axis=1)
        level = np.full(len(audio), -np.inf)
        level[finite] = 10 * np.log10(np.var(audio[finite], axis=1) + 1e-20)
        alive = level > (np.median(level[finite]) if finite.any() else 0) - DEAD_BELOW_DB
        alive &= level > -180  # digital silence on a channel while others hear: unplugged
        dropped = tuple(f"channel {i}: " + ("NaN or infinity" if not finite[i] else "dead")
                        for i in range(len(audio)) if not (finite[i] and alive[i]))
        return tuple(int(i) for i in np.flatnonzero(finite & alive)), dropped

    def spectra(self, audio: np.ndarray) -> np.ndarray:
        """(M, N) -> (M, 257, T) spectra of every STFT frame."""
        if audio.shape[1] < FRAME:
            return np.zeros((len(audio), FRAME // 2 + 1, 0), dtype=np.complex128)
        frames = np.lib.stride_tricks.sliding_window_view(audio, FRAME, axis=1)[:, ::HOP]
        return np.fft.rfft(frames * self.window, axis=-1).transpose(0, 2, 1)  # (M, 257, T)

    def bins(self, spectra: np.ndarray, mask: np.ndarray,
             band: tuple[float, float] | None) -> np.ndarray:
        """The bins of `band` where the active frames stand `contrast_db` over the others: the
        band of what was heard, without the bins another source or the noise holds. All of
        the band when too few frames are left to compare with, or too few bins stand out."""
        low, high = band or self.band
        bins = np.arange(int(np.ceil(low * FRAME / self.rate)),
                         int(np.floor(high * FRAME / self.rate)) + 1)
        if self.contrast_db is None or (~mask).sum() < MIN_OTHER_FRAMES:
            return bins
        power = np.abs(spectra[:, bins]) ** 2  # (M, F, T)
        heard = power[..., mask].mean(axis=(0, 2))
        other = power[..., ~mask].mean(axis=(0, 2)) + 1e-20
        standing = bins[heard > other * 10 ** (self.contrast_db / 10)]
        return standing if len(standing) >= MIN_BINS else bins

    def locate(self, audio: np.ndarray, active: np.ndarray | None = None,
               band: tuple[float, float] | None = None) -> Located:
        """(C, N) audio (C: the geometry's or the device's channel count), `active` one flag
        per 512 samples (None: every frame) -> Located. GeometryError on a channel mismatch."""
        peaks = self._peaks(audio, active, band, 1)
        if isinstance(peaks, Located):
            return peaks
        directions, frames, dropped = peaks
        best = directions[0]
        if best.confidence < self.min_confidence:
            return Located(None, f"no clear peak (confidence {best.confidence:.2f} < "
                           f"{self.min_confidence:.2f})", frames, dropped)
        return Located(best, "", frames, dropped)

    def peaks(self, audio: np.ndarray, active: np.ndarray | None = None,
              band: tuple[float, float] | None = None, count: int = 2) -> list[Direction]:
        """Up to `count` peaks of one spatial spectrum, strongest first (each with its own
        peak-to-mean confidence); empty where locate would give no direction for lack of
        frames or channels. The second peak of SRP-PHAT is a second source only when that
        source is within a few dB of the first: for a voice beside an event prefer
        locate_sources with each one's frames."""
        peaks = self._peaks(audio, active, band, count)
        return [] if isinstance(peaks, Located) else peaks[0]

    def locate_sources(self, audio: np.ndarray, actives: list[np.ndarray],
                       bands: list[tuple[float, float] | None] | None = None) -> list[Located]:
        """One Located per source, each searched in its own frames (and band): e.g. the voice
        gate's speech frames and the event's loud frames that are not speech. A frame two
        sources share is left to neither (it would vote for both)."""
        masks = [np.asarray(a, dtype=bool) for a in actives]
        shared = np.sum(masks, axis=0) > 1
        bands = bands or [None] * len(masks)
        return [self.locate(audio, m & ~shared, b) for m, b in zip(masks, bands)]

    def _peaks(self, audio, active, band, count):
        audio = self.geometry.select(audio)
        used, dropped = self.usable(audio)
        if len(used) < 2:
            return Located(None, "fewer than 2 working channels", 0, dropped)
        if self.geometry.count > 2 and not self.geometry.linear and \
                horizontal_rank(self.geometry.positions[list(used)]) < 2:
            return Located(None, "the working microphones lie on a line: front and back "
                           "cannot be told apart", 0, dropped)
        spectra = self.spectra(audio[list(used)].astype(np.float64))
        mask = frame_mask(active, audio.shape[1])
        frames = int(mask.sum())
        if frames < self.min_frames:
            return Located(None, f"too few active frames ({frames} < {self.min_frames})",
                           frames, dropped)
        doa = self.search(used)
        doa.locate_sources(spectra[..., mask], num_src=count,
                           freq_bins=self.bins(spectra, mask, band))
        values = doa.grid.values
        mean = float(np.mean(values))
        if not np.isfinite(values).all() or mean <= 0:
            return Located(None, "the spatial spectrum is empty", frames, dropped)
        order = np.argsort(-values[doa.src_idx])
        directions = [Direction(float(np.angle(np.exp(1j * doa.grid.azimuth[i]))), 0.0,
                                float(values[i] / mean - 1.0))
                      for i in np.asarray(doa.src_idx)[order]]
        return directions, frames, dropped

    def beam(self, audio: np.ndarray, direction: Direction | None) -> np.ndarray:
        """(C, N) -> (N,) float32: a delay-and-sum beam towards `direction` (pyroomacoustics'
        far-field beamformer, horizontal), the plain channel mean when there is none. NaN or
        dead channels are left out of either."""
        import pyroomacoustics as pra

        audio = self.geometry.select(audio)
        used, _ = self.usable(audio)
        if not used:
            return np.zeros(audio.shape[1], dtype=np.float32)
        signals = audio[list(used)].astype(np.float64)
        if direction is None or len(used) < 2:
            return signals.mean(axis=0).astype(np.float32)
        mics = self.geometry.positions[list(used), :2].T
        former = pra.Beamformer(mics, self.rate, N=FRAME)
        former.far_field_weights(direction.azimuth)
        former.signals = signals
        # time-domain filters (pyroomacoustics 0.10's frequency-domain path is broken): each
        # is centred in its FRAME taps, so the beam lags its input by FRAME // 2 samples
        out = former.process(FD=False)[FRAME // 2:FRAME // 2 + signals.shape[1]] / len(used)
        return out.astype(np.float32)


@dataclass(frozen=True)
class WindowDirection:
    start_s: float
    end_s: float
    label: str | None  # the sound model's event, None without a model or when it reports none
    located: Located


def locate_windows(audio: np.ndarray, locator: Locator, window_s: float, hop_s: float,
                   classifier=None) -> list[WindowDirection]:
    """Every full window of a whole (C, N) recording at 16 kHz: its direction from the frames
    of what was heard, and with a sound-event `classifier` (runtime.classifier.Classifier) its event.

    An event's window is searched in its loud non-speech frames, a voice's (the event
    `speech`, or no event and enough speech frames) in its speech frames, anything else in its
    loud frames. The noise floor is the recording's 10th-percentile frame level.
    """
    from .events import SPEECH, reported
    from .operating_points import event_thresholds
    from .stream import window_hop_samples, window_starts
    from .vad import SPEECH_PROBABILITY, VoiceActivity

    audio = locator.geometry.select(audio)
    levels = frame_levels(np.where(np.isfinite(audio), audio, 0.0))
    floor = float(np.percentile(levels, FLOOR_PERCENTILE)) if len(levels) else 0.0
    threshold = (event_thresholds(classifier.labels, None, classifier)
                 if classifier is not None else None)
    vad = VoiceActivity()
    window, hop = window_hop_samples(window_s, hop_s, locator.rate)
    out = []
    for start in window_starts(audio.shape[1], window, hop):
        chunk = audio[:, start:start + window]
        mono = locator.beam(chunk, None)  # the working channels' mean
        label = None
        if classifier is not None:
            events = reported(classifier.predict(mono, locator.rate).probs, classifier.labels,
                              threshold, 1)
            label = classifier.labels[events[0][0]] if events else None
        speech = vad.frames(mono) > SPEECH_PROBABILITY
        loud = levels[start // FRAME:start // FRAME + len(speech)] > floor + LOUD_MARGIN_DB
        heard = heard_frames(speech, loud)
        if label is not None and label != SPEECH:
            active = heard["event"]
        elif label == SPEECH or 2 * heard["speech"].sum() >= locator.min_frames:
            active = heard["speech"]
        else:
            active = loud
        out.append(WindowDirection(start / locator.rate, (start + window) / locator.rate, label,
                                   locator.locate(chunk, active)))
    return out
