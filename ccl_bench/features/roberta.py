"""RoBERTa-base, the text branch of LAION-CLAP, and its byte-level BPE tokenizer, written from the
published definitions (Liu et al. 2019; the GPT-2 byte-level BPE) so that `roberta-base`'s weights load
under their own key names (`embeddings.*`, `encoder.layer.{i}.*`, `pooler.dense`).

Tokenizer (`RobertaTokenizer` as LAION-CLAP calls it: `padding="max_length", truncation=True,
max_length=77`): the text is split by the GPT-2 pattern (contractions, letter runs, digit runs, other
symbol runs, each with at most one leading space; whitespace runs), each piece's UTF-8 bytes are mapped to
printable characters (`byte_characters`) and merged by the ranks of `merges.txt`, then looked up in
`vocab.json`; `<s> ... </s>` around at most 75 pieces, padded with `<pad>` to 77. Special-token strings
typed inside a caption (`<mask>`, ...) are tokenised as plain text here (the reference splits them out)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

CONTEXT = 77  # LAION-CLAP's max_length
BOS, PAD, EOS, UNK = "<s>", "<pad>", "</s>", "<unk>"
# GPT-2's pre-tokeniser: contractions, letters, digits, other symbols (each with one optional leading
# space), trailing whitespace, whitespace.
PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


@lru_cache(1)
def byte_characters() -> dict[int, str]:
    """Byte -> a printable character: the 188 printable Latin-1 bytes stand for themselves, the other 68
    are moved to code points 256, 257, ... in byte order (so no vocabulary entry holds a space or a
    control character)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1), *range(ord("\u00ae"), ord("\u00ff") + 1)]
    table, extra = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@dataclass
class ByteLevelBPE:
    """`vocab.json` (token -> id) and `merges.txt` (one `a b` merge a line, by rank, after a `#version`
    header) -> token ids."""

    vocab: dict[str, int]
    ranks: dict[tuple[str, str], int]

    @classmethod
    def from_texts(cls, vocab_json: str, merges_txt: str) -> ByteLevelBPE:
        lines = [ln for ln in merges_txt.split("\n") if ln and not ln.startswith("#version")]
        return cls(json.loads(vocab_json), {tuple(ln.split()): i for i, ln in enumerate(lines)})

    def __post_init__(self):
        import regex

        self._split = regex.compile(PATTERN)
        self._cache: dict[str, list[str]] = {}

    def merge(self, piece: str) -> list[str]:
        """One pre-token (as byte characters) -> its BPE symbols: repeatedly join every occurrence of
        the adjacent pair whose merge has the lowest rank, until no adjacent pair has a merge."""
        if piece in self._cache:
            return self._cache[piece]
        symbols = list(piece)
        while len(symbols) > 1:
            pairs = {(a, b) for a, b in zip(symbols, symbols[1:], strict=False)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            symbols = out
        self._cache[piece] = symbols
        return symbols

    def encode(self, text: str) -> list[int]:
        """Text -> token ids, without special tokens."""
        table, unk = byte_characters(), self.vocab.get(UNK)
        ids = []
        for piece in self._split.findall(text):
            for sym in self.merge("".join(table[b] for b in piece.encode("utf-8"))):
                ids.append(self.vocab.get(sym, unk))
        return ids

    def __call__(self, texts: list[str], context: int = CONTEXT) -> tuple[torch.Tensor, torch.Tensor]:
        """Texts -> (input_ids `[B, context]` long, attention_mask `[B, context]` long): `<s>`, at most
        `context - 2` tokens (the rest cut), `</s>`, `<pad>` to `context`."""
        bos, eos, pad = self.vocab[BOS], self.vocab[EOS], self.vocab[PAD]
        ids = torch.full((len(texts), context), pad, dtype=torch.long)
        mask = torch.zeros((len(texts), context), dtype=torch.long)
        for i, t in enumerate(texts):
            row = [bos, *self.encode(t)[: context - 2], eos]
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return ids, mask


@dataclass(frozen=True)
class RobertaConfig:
    """roberta-base: 12 layers of width 768, 12 heads, 3072-wide feed-forward, 50,265 tokens, 514
    positions (padding index 1: positions start at 2), LayerNorm eps 1e-5."""

    vocab: int = 50265
    width: int = 768
    layers: int = 12
    heads: int = 12
    ffn: int = 3072
    positions: int = 514
    pad_id: int = 1
    eps: float = 1e-5


class RobertaEmbeddings(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.pad_id = c.pad_id
        self.word_embeddings = nn.Embedding(c.vocab, c.width, padding_idx=c.pad_id)
        self.position_embeddings = nn.Embedding(c.positions, c.width, padding_idx=c.pad_id)
        self.token_type_embeddings = nn.Embedding(1, c.width)
        self.LayerNorm = nn.LayerNorm(c.width, eps=c.eps)

    def forward(self, ids):
        real = (ids != self.pad_id).long()
        pos = torch.cumsum(real, dim=1) * real + self.pad_id  # RoBERTa counts positions from pad_id + 1
        x = self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(torch.zeros_like(ids))
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.heads = c.heads
        self.query, self.key, self.value = (nn.Linear(c.width, c.width) for _ in range(3))

    def forward(self, x, bias):
        b, n, d = x.shape

        def split(t):
            return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

        y = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)), attn_mask=bias)
        return y.transpose(1, 2).reshape(b, n, d)


class AddNorm(nn.Module):
    """`LayerNorm(residual + dense(x))` (the `*.output` modules)."""

    def __init__(self, cin: int, cout: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(cin, cout)
        self.LayerNorm = nn.LayerNorm(cout, eps=eps)

    def forward(self, x, residual):
        return self.LayerNorm(residual + self.dense(x))


class Attention(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.add_module("self", SelfAttention(c))  # the checkpoint's name: `attention.self.query`
        self.output = AddNorm(c.width, c.width, c.eps)

    def forward(self, x, bias):
        return self.output(self.self(x, bias), x)


class Intermediate(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(c.width, c.ffn)

    def forward(self, x):
        return F.gelu(self.dense(x))  # exact (erf) GELU


class RobertaLayer(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = AddNorm(c.ffn, c.width, c.eps)

    def forward(self, x, bias):
        x = self.attention(x, bias)
        return self.output(self.intermediate(x), x)


class Encoder(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.layer = nn.ModuleList(RobertaLayer(c) for _ in range(c.layers))


class Pooler(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(c.width, c.width)

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))  # the `<s>` token's state


class RobertaModel(nn.Module):
    """(input_ids `[B, L]`, attention_mask `[B, L]`) -> pooled output `[B, width]` (eval mode)."""

    def __init__(self, c: RobertaConfig | None = None):
        super().__init__()
        c = c or RobertaConfig()
        self.embeddings = RobertaEmbeddings(c)
        self.encoder = Encoder(c)
        self.pooler = Pooler(c)

    def forward(self, ids, mask):
        x = self.embeddings(ids)
        # Padding is masked with the dtype's lowest value added to the scores (as the reference does).
        bias = ((1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min)
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return self.pooler(x)
