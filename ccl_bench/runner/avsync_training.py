"""Training and held-out evaluation of the suite-native encoders (`avsync_encoders`), used by
`benchmarks/train_avsync_features.py`. Deterministic by seed (one `torch.Generator` draws the batch
order and every augmentation).

Augmentations make the heads read content, not rendering artefacts, since they will score generated
clips (blocky, noisy, decoded by the models' codecs):
- video: a time shift of up to 3 frames (edges held), blockiness (2x2 average, nearest back),
  blur (3x3 box), brightness and contrast (hue kept: colour is a label), Gaussian noise, 8-bit rounding;
- audio: half the batch through the models' log-mel codec and back (Griffin-Lim phase), gain, a time
  shift of up to 0.1 s, white noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..features.avsync_encoders import CLASSES, ENCODERS, HEADS, SAMPLES, clip_labels, cosine_lr, video_batch

IGNORE = -100


def label_tensor(metas: list[dict], heads: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Metadata of rendered clips (label, caption, events) -> `{head: long [N]}`, IGNORE where undefined."""
    rows = [clip_labels(m.get("label"), m.get("caption"), m.get("events")) for m in metas]
    return {h: torch.tensor([IGNORE if r[h] is None else r[h] for r in rows], dtype=torch.long) for h in heads}


def _uniform(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def augment_video(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """`[B, 3, T, H, W]` in [-1, 1] -> a degraded copy (see the module docstring)."""
    b, _, t, h, w = x.shape
    shift = torch.randint(-3, 4, (b,), generator=g) * (torch.rand(b, generator=g) < 0.5)
    idx = (torch.arange(t)[None] - shift[:, None]).clamp(0, t - 1)  # [B, T]
    x = torch.gather(x, 2, idx[:, None, :, None, None].expand(b, 3, t, h, w))
    # 2x2 as the models' pixel codec patches; 4x4 would erase the background-object family's 3-pixel dot (its colour a label).
    block = torch.tensor([1, 1, 1, 2])[torch.randint(0, 4, (b,), generator=g)]
    out = x.clone()
    for f in (2,):
        sel = block == f
        if sel.any():
            y = x[sel].transpose(1, 2).reshape(-1, 3, h, w)
            y = F.interpolate(F.avg_pool2d(y, f), scale_factor=f, mode="nearest")
            out[sel] = y.reshape(-1, t, 3, h, w).transpose(1, 2)
    blur = torch.rand(b, generator=g) < 0.3
    if blur.any():
        out[blur] = F.avg_pool3d(out[blur], (1, 3, 3), 1, (0, 1, 1), count_include_pad=False)
    a = _uniform(g, b, 0.8, 1.15)[:, None, None, None, None]
    c = _uniform(g, b, -0.1, 0.1)[:, None, None, None, None]
    sigma = (_uniform(g, b, 0.0, 0.2) * (torch.rand(b, generator=g) < 0.7))[:, None, None, None, None]
    out = (out + 1) * a - 1 + c + sigma * torch.randn(out.shape, generator=g)
    return (((out.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1).float()


def augment_audio(wave: torch.Tensor, codec_wave: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Mono `[B, N]` (and the same clips through the log-mel codec) -> a degraded copy."""
    b, n = wave.shape
    use_codec = (torch.rand(b, generator=g) < 0.5)[:, None]
    x = torch.where(use_codec, codec_wave.float(), wave.float())
    x = x * _uniform(g, b, 0.5, 1.5)[:, None]
    shift = (torch.randint(-1600, 1601, (b,), generator=g) * (torch.rand(b, generator=g) < 0.5)).tolist()
    x = torch.stack([_shifted(row, k) for row, k in zip(x, shift, strict=True)])
    std = _uniform(g, b, 0.0, 0.03) * (torch.rand(b, generator=g) < 0.5)
    return (x + std[:, None] * torch.randn(x.shape, generator=g)).clamp(-1, 1)


def _shifted(row: torch.Tensor, k: int) -> torch.Tensor:
    """Delay `[N]` by k samples (negative: advance), zero-filled."""
    if k == 0:
        return row
    out = torch.zeros_like(row)
    if k > 0:
        out[k:] = row[:-k]
    else:
        out[:k] = row[-k:]
    return out


def codec_round_trip(audio: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Mono 16 kHz `[N, S]` -> the same through the reference models' log-mel codec and back."""
    from reference_impl.codecs import LogMelCodec

    codec = LogMelCodec(sample_rate=16000)
    return torch.cat([codec.decode(codec.encode(audio[i : i + batch]), audio.shape[1]) for i in range(0, len(audio), batch)])


@dataclass
class TrainLog:
    steps: int
    first_loss: float
    last_loss: float
    seconds: float


def train_encoder(modality: str, inputs: dict[str, torch.Tensor], labels: dict[str, torch.Tensor], epochs: int,
                  batch: int = 32, lr: float = 3e-3, seed: int = 0, log=print) -> tuple[torch.nn.Module, TrainLog]:
    """Train one encoder from scratch. inputs: video `{"video": uint8 [N, 32, 32, 32, 3]}` or audio
    `{"audio": [N, 32000], "codec": [N, 32000]}`; labels: `label_tensor(...)`."""
    import time

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = ENCODERS[modality]()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    n = len(labels["family"])
    per_epoch = n // batch
    total = epochs * per_epoch
    step, losses, start = 0, [], time.perf_counter()
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=g)
        for s in range(per_epoch):
            idx = order[s * batch : (s + 1) * batch]
            if modality == "video":
                x = augment_video(video_batch(inputs["video"][idx]), g)
            else:
                x = augment_audio(inputs["audio"][idx], inputs["codec"][idx], g)
            for group in opt.param_groups:
                group["lr"] = cosine_lr(step, total, lr, warmup=max(1, total // 20))
            _, logits = model(x)
            loss = sum(F.cross_entropy(logits[h], labels[h][idx], ignore_index=IGNORE) for h in HEADS[modality]
                       if (labels[h][idx] != IGNORE).any())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
        log(f"{modality} epoch {epoch + 1}/{epochs}: loss {np.mean(losses[-per_epoch:]):.4f}")
    return model.eval(), TrainLog(step, losses[0] if losses else float("nan"), losses[-1] if losses else float("nan"),
                                  time.perf_counter() - start)


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, modality: str, batch: int = 128) -> dict[str, np.ndarray]:
    """Encoder inputs (uint8 tiny video `[N, T, H, W, 3]` or waves `[N, 32000]`) -> embeddings and predictions."""
    emb, pred = [], {h: [] for h in HEADS[modality]}
    for i in range(0, len(x), batch):
        xb = video_batch(x[i : i + batch]) if modality == "video" else x[i : i + batch, :SAMPLES].float()
        e, logits = model(xb)
        emb.append(e.numpy())
        for h in pred:
            pred[h].append(logits[h].argmax(1).numpy())
    return {"embedding": np.concatenate(emb), **{h: np.concatenate(v) for h, v in pred.items()}}


def accuracy(pred: dict[str, np.ndarray], labels: dict[str, torch.Tensor]) -> dict[str, dict]:
    """Per head: share correct among the clips that have the label, and that count."""
    out = {}
    for h, p in pred.items():
        if h == "embedding":
            continue
        y = labels[h].numpy()
        keep = y != IGNORE
        out[h] = {"accuracy": float((p[keep] == y[keep]).mean()) if keep.any() else None, "clips": int(keep.sum()),
                  "chance": 1.0 / len(CLASSES[h])}
    return out
