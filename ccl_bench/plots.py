"""Pictures a person would rather look at than read: clip contact sheets (frames + spectrogram with the
listed events), training loss curves, and metric comparisons with their intervals. matplotlib, Agg."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: str | Path, title: str | None, dpi: int) -> Path:
    plt = _plt()
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def contact_sheet(folder: str | Path, out: str | Path, num_clips: int = 6, frames: int = 8, title: str | None = None) -> Path:
    """One row per clip of a suite/sample folder: `frames` evenly spaced frames, then the log
    spectrogram (0-8 kHz) with the manifest's events as ticks."""
    from .evaluate import load_clipset
    from .io import read_clip

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
    return _save(fig, out, title, dpi=90)


def loss_curves(runs: dict[str, str | Path], out: str | Path, smooth: int = 10, title: str | None = None) -> Path:
    """Training losses of several runs (`metrics.jsonl`): total, and per task family (video / audio
    generated), each a moving average over `smooth` logged points."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    keys = (("loss", "all tasks"), (("loss_t2v", "loss_a2v"), "video generated (t2v, a2v)"),
            (("loss_t2a", "loss_v2a"), "audio generated (t2a, v2a)"))
    for name, folder in runs.items():
        rows = [json.loads(ln) for ln in (Path(folder) / "metrics.jsonl").read_text().splitlines() if ln.strip()]
        steps = np.array([r["step"] for r in rows])
        for ax, (key, label) in zip(axes, keys, strict=True):
            names = (key,) if isinstance(key, str) else key
            vals = np.array([np.nanmean([r.get(k, np.nan) for k in names]) for r in rows], dtype=float)
            ok = np.isfinite(vals)
            if ok.sum() < 2:
                continue
            kern = np.ones(min(smooth, ok.sum())) / min(smooth, ok.sum())
            ax.plot(steps[ok][len(kern) - 1 :], np.convolve(vals[ok], kern, mode="valid"), label=name,
                    lw=2.2 if name == "ccl" else 1.2)
            ax.set_title(label, fontsize=9)
            ax.set_xlabel("step")
            ax.set_yscale("log")
    axes[0].set_ylabel("flow-matching loss (moving average)")
    axes[-1].legend(fontsize=7, ncol=2)
    return _save(fig, out, title, dpi=100)


def metric_bars(results: dict[str, dict], out: str | Path, title: str | None = None) -> Path:
    """One panel per metric: a bar per result with its 95% interval (`results`: label -> result dict)."""
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
            lo, hi = e.get("ci95") or [np.nan, np.nan]
            vals.append(v)
            err[0].append(max(0.0, v - lo) if np.isfinite(lo) else 0)
            err[1].append(max(0.0, hi - v) if np.isfinite(hi) else 0)
        ax.bar(range(len(labels)), vals, yerr=err, capsize=3, color=["C3" if lab == "ccl" else "C0" for lab in labels])
        ax.set_xticks(range(len(labels)), labels, rotation=60, fontsize=7)
        first = next(results[lab]["metrics"][m] for lab in labels if "value" in results[lab]["metrics"].get(m, {}))
        unit, better = first.get("unit", ""), first.get("better", "")
        ax.set_title(f"{m}{f' ({unit})' if unit else ''}, {better} is better", fontsize=8)
    return _save(fig, out, title, dpi=100)
