"""Pictures a person would rather look at than read: clip contact sheets (frames + spectrogram with the
listed events), training loss curves, and metric comparisons with their intervals. matplotlib, Agg.

Each picture has a `*_figure` function that draws it and returns the figure (what tests read back:
bar heights, curve points), and a function that saves it as PNG, with the provenance, where given, in
the PNG's text chunks and as a caption under the figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: str | Path, dpi: int, provenance: dict | None = None) -> Path:
    """Write `fig` as PNG (atomically); `provenance` goes into the PNG text chunks (key `provenance`, JSON)
    and a one-line caption: commit, date, seed, command."""
    from .paths import atomic_write

    plt = _plt()
    metadata = {"Software": "ccl-bench"}
    if provenance:
        metadata["provenance"] = json.dumps(provenance, sort_keys=True, default=str)
        caption = (f"commit {str(provenance.get('commit', 'unknown'))[:12]}, {provenance.get('date_utc', '')}, "
                   f"seed {provenance.get('seed')}: {provenance.get('command', '')}")
        fig.text(0.005, 0.003, caption, fontsize=6, color="0.4", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.03 if provenance else 0, 1, 1))
    atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png", metadata=metadata))
    plt.close(fig)
    return Path(out)


def _titled(fig, title: str | None):
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def contact_sheet(folder: str | Path, out: str | Path, num_clips: int = 6, frames: int = 8, title: str | None = None) -> Path:
    """`contact_sheet_figure` as PNG."""
    return _save(contact_sheet_figure(folder, num_clips, frames, title), out, dpi=90)


def contact_sheet_figure(folder: str | Path, num_clips: int = 6, frames: int = 8, title: str | None = None):
    """One row per clip of a suite/sample folder: `frames` evenly spaced frames, then the log
    spectrogram (0-8 kHz) with the manifest's events as dashed vertical lines (seconds)."""
    from .io import read_clip
    from .io.clipset import load_clipset

    plt = _plt()
    cs = load_clipset(folder)
    items = cs.items[:num_clips]
    captions = {c["id"]: c.get("caption", "") for c in (cs.manifest or {}).get("clips", [])}
    fig, axes = plt.subplots(len(items), frames + 1, figsize=(1.6 * frames + 4.5, 1.7 * len(items) + 0.4),
                             gridspec_kw={"width_ratios": [1] * frames + [3]}, squeeze=False)
    for row, item in zip(axes, items, strict=True):
        clip = read_clip(item.video, audio_path=item.audio)
        for ax, i in zip(row[:frames], np.linspace(0, clip.num_frames - 1, frames).round().astype(int), strict=True):
            ax.imshow(clip.video[i], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"{i / clip.fps:.2f} s", fontsize=6)
        a = clip.audio.mean(0)
        n_fft, hop = 512, 128
        if len(a) >= n_fft:
            win = np.hanning(n_fft)
            frames_ = np.lib.stride_tricks.sliding_window_view(a, n_fft)[::hop] * win
            spec = 20 * np.log10(np.abs(np.fft.rfft(frames_, axis=1)).T + 1e-6)
            top = int(min(8000, clip.sample_rate / 2) / (clip.sample_rate / n_fft))
            row[-1].imshow(spec[:top], origin="lower", aspect="auto", cmap="magma", vmin=spec.max() - 70, vmax=spec.max(),
                           extent=(0, len(a) / clip.sample_rate, 0, top * clip.sample_rate / n_fft / 1000))
        for t in item.events or []:
            row[-1].axvline(t, color="cyan", lw=0.8, ls="--")
        row[-1].set_ylabel("kHz", fontsize=6)
        row[-1].tick_params(labelsize=6)
        row[-1].set_title(captions.get(item.id, item.id)[:70], fontsize=7)
    return _titled(fig, title)


def loss_curves(runs: dict[str, str | Path], out: str | Path, smooth: int = 10, title: str | None = None) -> Path:
    """Training losses of several runs (`metrics.jsonl`) as PNG; see `loss_curves_figure`."""
    return _save(loss_curves_figure(runs, smooth, title), out, dpi=100)


def loss_curves_figure(runs: dict[str, str | Path], smooth: int = 10, title: str | None = None):
    """Three panels: total loss, and per task family (video / audio generated), each a moving average
    over `smooth` logged points, one line per run (labelled with its name)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    keys = (("loss", "all tasks"), (("loss_t2v", "loss_a2v"), "video generated (t2v, a2v)"),
            (("loss_t2a", "loss_v2a"), "audio generated (t2a, v2a)"))
    for i, (name, folder) in enumerate(runs.items()):
        rows = [json.loads(ln) for ln in (Path(folder) / "metrics.jsonl").read_text().splitlines() if ln.strip()]
        steps = np.array([r["step"] for r in rows])
        for ax, (key, label) in zip(axes, keys, strict=True):
            names = (key,) if isinstance(key, str) else key
            vals = np.array([np.nanmean([r.get(k, np.nan) for k in names]) for r in rows], dtype=float)
            ok = np.isfinite(vals)
            if ok.sum() < 2:
                continue
            kern = np.ones(min(smooth, ok.sum())) / min(smooth, ok.sum())
            # one colour per run on every panel (a panel a run draws no line on must not shift the others'); past
            # ten runs the colours repeat dashed, so that no two runs share a line
            ax.plot(steps[ok][len(kern) - 1 :], np.convolve(vals[ok], kern, mode="valid"), label=name, color=f"C{i % 10}",
                    ls=("-", "--", ":")[i // 10 % 3], lw=2.2 if name == "ccl" else 1.2)
            ax.set_title(label, fontsize=9)
            ax.set_xlabel("step")
            ax.set_yscale("log")
    axes[0].set_ylabel("flow-matching loss (moving average)")
    # the legend goes on the last panel with the most lines, so that it names every run it can (a stage-1 video
    # run draws no audio curve, a T2AV-only baseline no per-task curve)
    max(axes[::-1], key=lambda ax: len(ax.lines)).legend(fontsize=7, ncol=2)
    return _titled(fig, title)


def metric_bars(results: dict[str, dict], out: str | Path, title: str | None = None, provenance: dict | None = None) -> Path:
    """`metric_bars_figure` as PNG, with `provenance` (of the comparison) in its metadata and caption."""
    return _save(metric_bars_figure(results, title), out, dpi=100, provenance=provenance)


def metric_bars_figure(results: dict[str, dict], title: str | None = None):
    """One panel per metric with a value: a bar per result (its value) with its 95% interval as the
    error bar (`results`: label -> result dict with `metrics`)."""
    plt = _plt()
    names = [m for m in next(iter(results.values()))["metrics"]
             if any("value" in r["metrics"].get(m, {}) for r in results.values())]
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(3.2 * max(1, len(names)), 3.6), squeeze=False)
    labels = list(results)
    for ax, m in zip(axes[0], names, strict=False):
        vals, err = [], [[], []]
        for lab in labels:
            e = results[lab]["metrics"].get(m, {})
            v = e.get("value", np.nan)
            lo, hi = e.get("ci95") or [np.nan, np.nan]  # no interval (no bootstrap): no error bar
            vals.append(v)
            err[0].append(max(0.0, v - lo) if np.isfinite(lo) else 0)
            err[1].append(max(0.0, hi - v) if np.isfinite(hi) else 0)
        ax.bar(range(len(labels)), vals, yerr=err, capsize=3, color=["C3" if lab == "ccl" else "C0" for lab in labels])
        ax.set_xticks(range(len(labels)), labels, rotation=60, fontsize=7)
        first = next(results[lab]["metrics"][m] for lab in labels if "value" in results[lab]["metrics"].get(m, {}))
        unit, better = first.get("unit", ""), first.get("better", "")
        ax.set_title(f"{m}{f' ({unit})' if unit else ''}, {better} is better", fontsize=8)
    return _titled(fig, title)
