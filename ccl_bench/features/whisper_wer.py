"""Word error rate of the spoken words against the prompt's transcript, through OpenAI Whisper
(`openai-whisper`, the `speech` extra).

Weights: OpenAI's files of whisper's model table (`large-v3.pt`, `tiny.en.pt`; the URL's folder is the
file's SHA-256, checked before loading): a torch pickle `{"dims": {...}, "model_state_dict": {...}}`,
read with `weights_only=True` and loaded into `whisper.model.Whisper(ModelDimensions(**dims))` (the
package's own loader format; fp16 weights are widened to fp32 on CPU).

Protocol `whisper-<size>`:
- audio mono 16 kHz, the whole clip (whisper's own log-mel front end and 30 s windows);
- `whisper.transcribe(..., language="en", task="transcribe", temperature=0.0)`: greedy decoding with no
  temperature fallback (so a run is deterministic; whisper's default falls back to sampling at
  0.2 ... 1.0 when a window decodes badly), fp16 on CUDA, fp32 on CPU, other options the package's defaults;
- text normalisation: whisper's `EnglishTextNormalizer` (the one of the Whisper paper's WER: lower case,
  punctuation and fillers removed, spellings and numbers standardised) on both the transcript and the
  hypothesis, then split on whitespace;
- per clip: the word-level edit distance (substitutions + deletions + insertions, unit costs) and the
  number of reference words. The headline `wer` is corpus-level: total edits / total reference words
  over the clips (jiwer's list form); `wer@clip-mean` is the mean of the per-clip rates.
A clip without a `transcript` in its prompt, or whose transcript normalises to no words, has no value
(the reason is in the conversions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import BackboneAnalysis, mono_at

RATE = 16000
LANGUAGE = "en"
SIZES = ("large-v3", "tiny.en")


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Minimum substitutions + deletions + insertions turning `ref` into `hyp` (Levenshtein over words)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def normalise(text: str) -> list[str]:
    """Whisper's English normaliser, then whitespace-separated words."""
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()(text).split()


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """-> (edits, reference words) after normalisation."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    return edit_distance(ref, hyp), len(ref)


def corpus_wer(errors: Sequence[int], words: Sequence[int]) -> float | None:
    """Total edits / total reference words; None with no reference words."""
    total = int(np.sum(words))
    return float(np.sum(errors)) / total if total else None


def build_model(dims: dict):
    """A `whisper.model.Whisper` of the given `ModelDimensions` fields (random weights)."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    model = Whisper(ModelDimensions(**dims))
    # whisper allocates the decoder's positional embedding with torch.empty (a checkpoint always fills it):
    # left so, it holds whatever memory it got, NaN at times, which a random model must not carry
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.01)
    return model


def transcribe(model, audio16k: np.ndarray, sample_len: int | None = None) -> str:
    """One clip's mono 16 kHz audio `[N]` -> Whisper's text (greedy, English). `sample_len` caps the tokens
    per 30 s window (whisper's default: half the text context, 224); tests cap it to bound random decoding."""
    import whisper

    fp16 = next(model.parameters()).device.type == "cuda"
    extra = {"sample_len": sample_len} if sample_len else {}
    out = whisper.transcribe(model, np.asarray(audio16k, np.float32), language=LANGUAGE, task="transcribe",
                             temperature=0.0, fp16=fp16, verbose=None, **extra)
    return str(out["text"]).strip()


class WhisperWER(BackboneAnalysis):
    """Per clip `{"errors": [e], "words": [n], "hypothesis": [text]}` (empty arrays without a transcript)."""

    reads_text = ("transcript",)

    def __init__(self, size: str = "large-v3", weights_dir=None, device: str = "cpu", sample_len: int | None = None):
        if size not in SIZES:
            from ..errors import UnknownNameError

            raise UnknownNameError("Whisper model", size, list(SIZES))
        self.size, self.sample_len = size, sample_len  # sample_len: only tests cap the tokens per window
        self.weights_names = (f"whisper-{size}",)
        protocol = {"name": f"whisper-{size}", "recogniser": f"openai-whisper {size}", "language": LANGUAGE,
                    "decoding": "whisper.transcribe, temperature 0 (greedy, no fallback), package defaults otherwise",
                    "normaliser": "whisper.normalizers.EnglishTextNormalizer, split on whitespace",
                    "distance": "word-level Levenshtein, unit costs", "reference": "the prompt's transcript"}
        if sample_len:
            protocol["sample_len"] = sample_len
        super().__init__(f"whisper-{size}", protocol, weights_dir, device)

    def build(self, states):
        from ..weights import WeightsError, load_into

        name = self.weights_names[0]
        ckpt = states[name]
        if not isinstance(ckpt, dict) or not isinstance(ckpt.get("dims"), dict) or "model_state_dict" not in ckpt:
            raise WeightsError(f"{name}: not whisper's checkpoint format (a dict with `dims` and `model_state_dict`)")
        try:
            model = build_model(ckpt["dims"])
        except TypeError as exc:
            raise WeightsError(f"{name}: its `dims` are not whisper's ModelDimensions ({exc})") from None
        return load_into(model, ckpt["model_state_dict"], name).float().eval().to(self.device)

    def compute(self, clip):
        empty = {"errors": np.zeros(0), "words": np.zeros(0), "hypothesis": np.array([], str)}
        transcript = clip.metadata.get("transcript")
        if not transcript:
            return empty, ["no transcript (wer reads `transcript` from the suite manifest or the prompt file)"]
        if not normalise(transcript):
            return empty, ["the transcript normalises to no words: no WER"]
        conv: list[str] = []
        hyp = transcribe(self.model, mono_at(clip, RATE, conv), self.sample_len)
        errors, words = word_errors(transcript, hyp)
        return {"errors": np.array([errors], float), "words": np.array([words], float), "hypothesis": np.array([hyp])}, conv
