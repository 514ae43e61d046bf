"""Pictures of a model: its SincGram filter bank (initial vs learned) and the representations of
one clip (waveform, Spectrogram, SincGram, DEGram with its attention weights).

Each picture has a `*_data` function returning the arrays it draws, so tests can check what
is drawn without reading pixels, and a `plot_*` function writing the PNG.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: robots, CI and ssh sessions have no display
import matplotlib.pyplot as plt  # noqa: E402  (must come after the backend is chosen)
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.gridspec import GridSpec  # noqa: E402

from .sincgram import SincGram  # noqa: E402
from .models import AudioClassifier  # noqa: E402

FIGSIZE, DPI = (16, 9), 100  # 1600 x 900 px
STYLE = {"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "legend.fontsize": 11,
         "figure.titlesize": 15}
MAP_CMAP = "magma"
FILTER_CMAP = "viridis"
INITIAL_COLOUR, LEARNED_COLOUR = "0.55", "tab:red"


# ---------------------------------------------------------------------------------- filters


@dataclass
class FilterBankData:
    """Everything filters.png draws: responses (K, M) on `freqs_hz` (K,), centres/widths (M,)."""

    freqs_hz: np.ndarray
    initial: np.ndarray
    learned: np.ndarray
    initial_centres_hz: np.ndarray
    learned_centres_hz: np.ndarray
    initial_widths_hz: np.ndarray
    learned_widths_hz: np.ndarray
    nyquist: float


def initial_sincgram(model: AudioClassifier) -> SincGram:
    """The filter bank as it was before training. SincGram's init is deterministic (mel-spaced
    centres from the config, no RNG), so the config alone rebuilds it exactly."""
    return SincGram(model.frontend.cfg)


@torch.no_grad()
def filter_bank_data(model: AudioClassifier, points: int = 4000) -> FilterBankData | None:
    """Initial and learned responses g(f) on a dense grid; None when there is no SincGram."""
    learned = model.frontend.sincgram
    if learned is None:
        return None
    initial = initial_sincgram(model)
    # Denser than the 257 STFT bins so the narrow low-frequency filters keep their shape.
    freqs = torch.linspace(0.0, learned.nyquist, points)
    on_device = freqs.to(learned.centre_logit.device)  # the model stays where the caller has it
    return FilterBankData(
        freqs_hz=freqs.numpy(),
        initial=initial.response(freqs).numpy(),
        learned=learned.response(on_device).cpu().numpy(),
        initial_centres_hz=initial.centres_hz.numpy(),
        learned_centres_hz=learned.centres_hz.cpu().numpy(),
        initial_widths_hz=initial.widths_hz.numpy(),
        learned_widths_hz=learned.widths_hz.cpu().numpy(),
        nyquist=float(learned.nyquist),
    )


def plot_filters(data: FilterBankData, path: str | Path, title: str = "") -> Path:
    """filters.png: initial and learned responses, then centre and bandwidth per filter."""
    m = data.initial.shape[1]
    colours = plt.get_cmap(FILTER_CMAP)(np.linspace(0, 1, m))  # filter k: same colour in both
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        grid = GridSpec(2, 2, figure=fig, height_ratios=[3, 2])
        top = [fig.add_subplot(grid[0, 0])]
        top.append(fig.add_subplot(grid[0, 1], sharex=top[0], sharey=top[0]))
        for ax, responses, name in [(top[0], data.initial, "initial (mel-spaced)"),
                                    (top[1], data.learned, "learned")]:
            for k in range(m):
                ax.plot(data.freqs_hz, responses[:, k], color=colours[k], lw=1.0)
            ax.set(title=f"{name}: {m} Butterworth filters g(f)", xlabel="frequency (Hz)",
                   xlim=(0, data.nyquist), ylim=(0, 1.05))
            ax.grid(alpha=0.3)
        top[0].set_ylabel("gain")
        top[1].tick_params(labelleft=False)
        scale = plt.cm.ScalarMappable(plt.Normalize(0, m - 1), FILTER_CMAP)
        fig.colorbar(scale, ax=top, label="filter index", fraction=0.03, pad=0.01)

        index = np.arange(m)
        centre_ax = fig.add_subplot(grid[1, 0])
        centre_ax.plot(index, data.initial_centres_hz, "--", color=INITIAL_COLOUR, lw=2,
                       label="initial")
        centre_ax.plot(index, data.learned_centres_hz, "-", color=LEARNED_COLOUR, lw=1.5,
                       label="learned")
        centre_ax.set(title="centre a per filter", xlabel="filter index", ylabel="centre (Hz)",
                      xlim=(-0.5, m - 0.5))
        # The drift is often tens of Hz on an 8 kHz axis: draw it on its own scale.
        drift_ax = centre_ax.twinx()
        drift = data.learned_centres_hz - data.initial_centres_hz
        drift_ax.bar(index, drift, color=LEARNED_COLOUR, alpha=0.25, width=0.8,
                     label="learned - initial")
        limit = max(float(np.abs(drift).max()), 1e-3) * 1.1
        drift_ax.set(ylim=(-limit, limit), ylabel="centre shift (Hz)")
        drift_ax.axhline(0, color="0.3", lw=0.6)
        centre_ax.set_zorder(drift_ax.get_zorder() + 1)  # lines over the bars
        centre_ax.patch.set_visible(False)
        handles = centre_ax.get_legend_handles_labels()[0] + drift_ax.get_legend_handles_labels()[0]
        centre_ax.legend(handles, ["initial", "learned", "shift (right axis)"], loc="upper left")
        centre_ax.grid(alpha=0.3)

        width_ax = fig.add_subplot(grid[1, 1])
        width_ax.plot(index, data.initial_widths_hz, "--", color=INITIAL_COLOUR, lw=2,
                      label="initial")
        width_ax.plot(index, data.learned_widths_hz, "-", color=LEARNED_COLOUR, lw=1.5,
                      label="learned")
        width_ax.set(title="bandwidth b per filter", xlabel="filter index",
                     ylabel="bandwidth (Hz, log)", yscale="log", xlim=(-0.5, m - 0.5))
        nice = np.array([1, 2, 5])[None, :] * 10.0 ** np.arange(0, 6)[:, None]
        span = np.concatenate([data.initial_widths_hz, data.learned_widths_hz])
        width_ax.set_yticks(nice.ravel(), [f"{v:g}" for v in nice.ravel()])
        width_ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        width_ax.set_ylim(span.min() / 1.15, span.max() * 1.15)  # set_yticks widened it
        width_ax.legend(loc="upper left")
        width_ax.grid(alpha=0.3, which="both")
        if title:
            fig.suptitle(title)
        return save(fig, path)


# -------------------------------------------------------------------------- representations


@dataclass
class RepresentationData:
    """Everything representations.png draws for one clip."""

    wave: np.ndarray  # (N,)
    sample_rate: int
    hop_seconds: float
    maps: list[tuple[str, np.ndarray]]  # (name, (T, F)) in pipeline order
    centres_hz: np.ndarray | None  # (M,) band centres of the SincGram, None without one
    freq_attention: np.ndarray | None  # (F,) of the last map
    time_attention: np.ndarray | None  # (T,)
    top: list[tuple[str, float]]  # best first, at most 3


OUTPUT_NAMES = {"degram": "DEGram", "despectrogram": "DESpectrogram"}


@torch.no_grad()
def representation_data(model: AudioClassifier, wave: np.ndarray, top_k: int = 3
                        ) -> RepresentationData:
    """Every stage of the model's front end on `wave` (N,) at the model's rate, and its top-k."""
    if model.training:
        raise ValueError("representation_data needs a model in eval mode (no SpecAugment)")
    device = next(model.parameters()).device
    batch = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None].to(device)
    reps = {key: value[0].cpu() for key, value in model.representations(batch).items()}
    maps = [("Spectrogram", reps["spectrogram"].numpy())]
    if "sincgram" in reps:
        maps.append(("SincGram", reps["sincgram"].numpy()))
    kind = model.frontend.kind
    if kind in OUTPUT_NAMES:
        maps.append((OUTPUT_NAMES[kind], reps["output"].numpy()))
    probs = torch.softmax(model(batch), dim=-1)[0].cpu()
    labels = model.labels
    best = torch.argsort(probs, descending=True)[:top_k]
    sincgram = model.frontend.sincgram
    return RepresentationData(
        wave=np.asarray(wave, dtype=np.float32),
        sample_rate=model.sample_rate,
        hop_seconds=model.frontend.cfg.hop_length / model.sample_rate,
        maps=maps,
        centres_hz=sincgram.centres_hz.cpu().numpy() if sincgram is not None else None,
        freq_attention=reps["freq_attention"].numpy() if "freq_attention" in reps else None,
        time_attention=reps["time_attention"].numpy() if "time_attention" in reps else None,
        top=[(labels[i], float(probs[i])) for i in best],
    )


def envelope(wave: np.ndarray, columns: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample index, min and max per column: a minute of audio is a million points, but the
    figure is 1600 px wide, and min/max per column draws the same picture fast."""
    if len(wave) <= 2 * columns:
        index = np.arange(len(wave))
        return index, wave, wave
    step = len(wave) // columns
    chunks = wave[:step * columns].reshape(columns, step)
    return np.arange(columns) * step + step // 2, chunks.min(axis=1), chunks.max(axis=1)


def band_ticks(centres_hz: np.ndarray, count: int = 8) -> tuple[np.ndarray, list[str]]:
    """Band indices to tick and their labels in Hz (the learned centre of that band)."""
    index = np.unique(np.linspace(0, len(centres_hz) - 1, count).round().astype(int))
    return index, [f"{centres_hz[i]:.0f}" for i in index]


def plot_representations(data: RepresentationData, path: str | Path, title: str = "") -> Path:
    """representations.png: waveform on top; the maps side by side on one colour scale; the
    attention weights under (time) and beside (frequency) the last map."""
    n_maps = len(data.maps)
    has_attention = data.time_attention is not None
    frames = data.maps[0][1].shape[0]
    # Frame t is centred on t * hop (the STFT is centred); each pixel spans one hop.
    t_extent = (-data.hop_seconds / 2, (frames - 0.5) * data.hop_seconds)
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        widths = [1] * n_maps + ([0.16] if has_attention else [])
        widths.append(0.017 * sum(widths))  # the colour bar: same thin strip for 1 to 3 maps
        heights = [1, 3.2] + ([0.9] if has_attention else [])
        grid = GridSpec(len(heights), len(widths), figure=fig, width_ratios=widths,
                        height_ratios=heights)
        wave_ax = waveform_panel(fig, grid[0, :n_maps], data, t_extent)
        map_axes = map_panels(fig, grid, data, wave_ax, t_extent)
        if has_attention:
            attention_panels(fig, grid, data, wave_ax, map_axes[-1])
        top = ",  ".join(f"{label} {score:.2f}" for label, score in data.top)
        fig.suptitle(f"{title + '   ' if title else ''}top-{len(data.top)}: {top}")
        return save(fig, path)


def waveform_panel(fig, cell, data: RepresentationData, t_extent):
    ax = fig.add_subplot(cell)
    index, low, high = envelope(data.wave)
    seconds = index / data.sample_rate
    ax.fill_between(seconds, low, high, color="tab:blue", lw=0.6)
    ax.plot(seconds, (low + high) / 2, color="tab:blue", lw=0.4)
    peak = max(float(np.abs(data.wave).max()), 1e-6) * 1.05
    duration = len(data.wave) / data.sample_rate
    ax.set(xlim=t_extent, ylim=(-peak, peak), ylabel="amplitude",
           title=f"waveform ({duration:.2f} s at {data.sample_rate} Hz)")
    ax.tick_params(labelbottom=False)
    # Shared by every time axis; few ticks so labels of a short clip do not collide.
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=5))
    ax.grid(alpha=0.3)
    return ax


def map_panels(fig, grid, data: RepresentationData, wave_ax, t_extent) -> list:
    """The maps side by side and their colour bar; their axes."""
    # One colour scale for every map: all are z-scored log magnitudes (the attended one scaled
    # by weights in (0, 1)), so equal colours mean equal values across panels. Percentiles
    # keep a few extreme bins from washing out the rest.
    values = np.concatenate([m.ravel() for _, m in data.maps])
    vmin, vmax = np.percentile(values, [1, 99.5])
    last_has_attention = data.time_attention is not None
    image, axes = None, []
    for col, (name, values_tf) in enumerate(data.maps):
        ax = fig.add_subplot(grid[1, col], sharex=wave_ax)
        axes.append(ax)
        bins = values_tf.shape[1]
        linear_hz = name in ("Spectrogram", "DESpectrogram")
        if linear_hz:
            # Bins are linear in Hz: put Hz straight on the axis.
            nyquist = data.sample_rate / 2
            half_bin = nyquist / (bins - 1) / 2
            extent = (*t_extent, -half_bin, nyquist + half_bin)
            ylabel = "frequency (Hz)"
        else:
            # Learned bands are not evenly spaced in Hz: index axis, centre Hz as labels.
            extent = (*t_extent, -0.5, bins - 0.5)
            ylabel = "band (centre Hz)"
        image = ax.imshow(values_tf.T, origin="lower", aspect="auto", extent=extent,
                          cmap=MAP_CMAP, vmin=vmin, vmax=vmax, interpolation="nearest")
        if not linear_hz and data.centres_hz is not None:
            ticks, labels = band_ticks(data.centres_hz)
            ax.set_yticks(ticks, labels)
        ax.set(title=f"{name} ({bins} {'bins' if linear_hz else 'bands'})", ylabel=ylabel)
        if not (last_has_attention and col == len(data.maps) - 1):
            ax.set_xlabel("time (s)")
    fig.colorbar(image, cax=fig.add_subplot(grid[1, -1]), label="normalised log magnitude")
    return axes


def attention_panels(fig, grid, data: RepresentationData, wave_ax, last) -> None:
    """Time attention under the last map, frequency attention beside it, and the prediction
    in the row's free space under the other maps."""
    n_maps = len(data.maps)
    last.tick_params(labelbottom=False)
    time_ax = fig.add_subplot(grid[2, n_maps - 1], sharex=wave_ax)
    times = np.arange(len(data.time_attention)) * data.hop_seconds
    time_ax.fill_between(times, 0, data.time_attention, color="tab:cyan", alpha=0.35)
    time_ax.plot(times, data.time_attention, color="tab:blue", lw=1.2)
    time_ax.set(ylim=(0, 1), xlabel="time (s)", ylabel="time\nattention")
    time_ax.grid(alpha=0.3)

    freq_ax = fig.add_subplot(grid[1, n_maps], sharey=last)
    attention = data.freq_attention
    if data.maps[-1][0] == "DESpectrogram":  # bins in Hz, as the map's axis
        positions = np.linspace(0, data.sample_rate / 2, len(attention))
        height = positions[1] - positions[0]
    else:
        positions, height = np.arange(len(attention)), 0.9
    freq_ax.barh(positions, attention, height=height, color="tab:cyan",
                 edgecolor="tab:blue", lw=0.3)
    freq_ax.set(xlim=(0, 1), xlabel="freq.\nattention", title="")
    freq_ax.tick_params(labelleft=False)
    freq_ax.grid(alpha=0.3, axis="x")
    if n_maps > 1:
        prediction_panel(fig.add_subplot(grid[2, :n_maps - 1]), data.top)


def prediction_panel(ax, top: list[tuple[str, float]]) -> None:
    labels = [label for label, _ in top][::-1]  # best on top
    scores = [score for _, score in top][::-1]
    bars = ax.barh(labels, scores, color=["0.7"] * (len(scores) - 1) + ["tab:green"], height=0.7)
    ax.bar_label(bars, [f"{s:.2f}" for s in scores], padding=4)
    ax.set(xlim=(0, 1), xlabel="probability", title=f"prediction (top-{len(scores)})")
    ax.grid(alpha=0.3, axis="x")


# ---------------------------------------------------------------------------------- helpers


def save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=DPI)
    finally:
        plt.close(fig)  # a long-lived process (ROS node, notebook) must not leak figures
    return path
