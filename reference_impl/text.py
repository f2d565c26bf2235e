"""Text conditioning without an external model.

`WordHashEncoder` (tiny / small scales): each lower-cased word maps to a fixed random vector seeded by
its SHA-256, plus a sinusoidal position code; `[L, dim]` per caption, padded to `max_len` with a mask.
It is frozen, like Wan's umT5: the streams' `text_embedding` MLPs learn to read it. The av-sync
captions use this vocabulary (any other word still gets its own vector):
  a, an, the, and, as, at, its, it, in, of, on, with, each, when, own, up, down, front;
  ball, bounces, floor, thud, impact; light, flashes, high, low, beep; bars, bar, rings, pitch, struck;
  dot, glides, tone, rises; small, chirps, static, textured, background;
  red, green, blue, yellow, magenta, cyan, orange, white; 2, 3, 4.
An empty caption (the unconditional text of guidance) is all padding: its mask is all False.

`PrecomputedTextEmbeddings` (Wan scales): umT5-XXL embeddings computed once, outside this package
(umT5 is 5.7B parameters; no registry ships it), read from a folder laid out as:

    <folder>/<sha256 hex of the caption's UTF-8 bytes>.safetensors   key `embedding`: [L, text_dim], L <= 512
    <folder>/negative.safetensors                                     (optional) key `embedding`: the negative
                                                                      prompt, used for the empty caption

Each file holds the caption's real tokens only (Wan's `context` before padding); the model pads them to
`text_pad_to` slots. The empty caption (guidance's unconditional text) reads `negative.safetensors` when
present (Wan's own sampler uses its negative prompt there), else the empty caption's own file.
`text_encoder(text_dim, folder)` picks this when a folder is given, the word-hash encoder otherwise."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import torch

AV_SYNC_VOCABULARY = (
    "a an the and as at its it in of on with each when own up down front ball bounces floor thud impact light flashes "
    "high low beep bars bar rings pitch struck dot glides tone rises small chirps static textured background red green "
    "blue yellow magenta cyan orange white 2 3 4"
).split()


def words(caption: str) -> list[str]:
    return [w for w in caption.lower().replace(",", " ").split() if w]


class WordHashEncoder:
    def __init__(self, dim: int = 128, max_len: int = 24):
        self.dim, self.max_len = dim, max_len
        self._cache: dict[str, torch.Tensor] = {}

    def word_vector(self, word: str) -> torch.Tensor:
        if word not in self._cache:
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
            g = torch.Generator().manual_seed(seed)
            self._cache[word] = torch.randn(self.dim, generator=g)
        return self._cache[word]

    def positions(self) -> torch.Tensor:
        pos = torch.arange(self.max_len, dtype=torch.float64)[:, None]
        freq = torch.pow(10000.0, -torch.arange(0, self.dim, 2, dtype=torch.float64) / self.dim)
        pe = torch.zeros(self.max_len, self.dim, dtype=torch.float64)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
        return pe.float()

    def __call__(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """captions -> embeddings `[B, max_len, dim]` (float32), mask `[B, max_len]` (True = word)."""
        emb = torch.zeros(len(captions), self.max_len, self.dim)
        mask = torch.zeros(len(captions), self.max_len, dtype=torch.bool)
        pe = self.positions()
        for i, c in enumerate(captions):
            ws = words(c)[: self.max_len]
            for j, w in enumerate(ws):
                emb[i, j] = self.word_vector(w) + pe[j]
            mask[i, : len(ws)] = True
        return emb / math.sqrt(2.0), mask


class PrecomputedTextEmbeddings:
    """umT5 embeddings from files (layout above), padded to the longest caption of the batch."""

    NEGATIVE = "negative.safetensors"

    def __init__(self, folder: str | Path, text_dim: int | None = None):
        self.folder, self.text_dim = Path(folder), text_dim
        if not self.folder.is_dir():
            raise FileNotFoundError(f"{self.folder}: no such folder of precomputed text embeddings")

    def path(self, caption: str) -> Path:
        if caption == "" and (self.folder / self.NEGATIVE).is_file():
            return self.folder / self.NEGATIVE
        return self.folder / f"{hashlib.sha256(caption.encode()).hexdigest()}.safetensors"

    def load(self, caption: str) -> torch.Tensor:
        from safetensors.torch import load_file

        p = self.path(caption)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no precomputed umT5 embedding for caption {caption!r}")
        state = load_file(str(p))
        if "embedding" not in state or state["embedding"].dim() != 2:
            raise ValueError(f"{p}: needs one tensor 'embedding' [tokens, text_dim]")
        emb = state["embedding"].float()
        if self.text_dim is not None and emb.shape[1] != self.text_dim:
            raise ValueError(f"{p}: embedding is {emb.shape[1]} wide, the model reads {self.text_dim}")
        return emb

    def __call__(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """captions -> embeddings `[B, L, text_dim]` (float32, zero-padded), mask `[B, L]` (True = token)."""
        rows = [self.load(c) for c in captions]
        n = max(r.shape[0] for r in rows)
        emb = torch.zeros(len(rows), n, rows[0].shape[1])
        mask = torch.zeros(len(rows), n, dtype=torch.bool)
        for i, r in enumerate(rows):
            emb[i, : len(r)], mask[i, : len(r)] = r, True
        return emb, mask

    def describe(self) -> dict:
        return {"kind": "precomputed", "files": "sha256(caption).safetensors", "negative_prompt":
                (self.folder / self.NEGATIVE).is_file(), "dim": self.text_dim}


def text_encoder(text_dim: int, folder: str | Path | None = None):
    """The captions' encoder: precomputed umT5 embeddings from `folder`, or the word-hash encoder."""
    return PrecomputedTextEmbeddings(folder, text_dim) if folder else WordHashEncoder(dim=text_dim)
