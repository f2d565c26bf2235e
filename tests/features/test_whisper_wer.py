"""WER through Whisper: the word edit distance and the corpus / per-clip rates equal independent renditions
on hand-made pairs, a random Whisper of tiny.en's layout saved in OpenAI's checkpoint format loads through
the weights manager and transcribes end to end on CPU, a tampered or foreign file is refused, and a clip
without a transcript has no value (with the reason)."""

import dataclasses
import functools
import itertools

import numpy as np
import pytest
import torch

from ccl_bench import weights as W
from ccl_bench.features import whisper_wer as A
from ccl_bench.io import AVClip
from ccl_bench.metrics import METRICS, Context

TINY_EN = {"n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 384, "n_audio_head": 6, "n_audio_layer": 4,
           "n_vocab": 51864, "n_text_ctx": 448, "n_text_state": 384, "n_text_head": 6, "n_text_layer": 4}


def distance_rendition(ref, hyp):
    """Edit distance by recursion over (i, j) suffixes."""

    @functools.cache
    def d(i, j):
        if i == len(ref):
            return len(hyp) - j
        if j == len(hyp):
            return len(ref) - i
        return min(d(i + 1, j) + 1, d(i, j + 1) + 1, d(i + 1, j + 1) + (ref[i] != hyp[j]))

    return d(0, 0)


def test_edit_distance_equals_a_recursive_rendition():
    assert A.edit_distance("the cat sat".split(), "the cat sat down".split()) == 1  # one insertion
    assert A.edit_distance("a b c d".split(), "a x c".split()) == 2  # one substitution, one deletion
    assert A.edit_distance([], "a b".split()) == 2 and A.edit_distance("a b".split(), []) == 2
    rng = np.random.default_rng(0)
    for _ in range(40):
        ref = list(rng.choice(list("abcd"), rng.integers(0, 9)))
        hyp = list(rng.choice(list("abcd"), rng.integers(0, 9)))
        assert A.edit_distance(ref, hyp) == distance_rendition(tuple(ref), tuple(hyp))


def test_normalisation_and_rates():
    assert A.word_errors("Hello, World!", "hello world") == (0, 2)  # case and punctuation do not count
    assert A.word_errors("The cat sat.", "the cat sat down") == (1, 3)
    assert A.word_errors("Mr. Smith is here", "mister smith is there") == (1, 4)  # spellings standardised
    assert A.word_errors("one two three four", "1234") == (0, 1)  # spelt-out numbers become digits
    pairs = [("the red ball bounces", "the red bounces"), ("a b", "a b c d"), ("hello there", "hello there")]
    res = [dict(zip(("errors", "words"), map(lambda v: np.array([v], float), A.word_errors(r, h)), strict=True))
           for r, h in pairs]
    none = {"errors": np.zeros(0), "words": np.zeros(0)}
    ctx = Context()
    # corpus-level: (1 + 2 + 0) / (4 + 2 + 2); per clip: mean(1/4, 2/2, 0/2)
    assert METRICS["wer"].value([*res, none], None, ctx) == pytest.approx(3 / 8)
    assert METRICS["wer@clip-mean"].value([*res, none], None, ctx) == pytest.approx((0.25 + 1 + 0) / 3)
    assert A.corpus_wer([1, 2, 0], [4, 2, 2]) == pytest.approx(3 / 8) and A.corpus_wer([], []) is None
    assert METRICS["wer"].value([none], None, ctx) is None and "transcript" in METRICS["wer"].unavailable
    # the corpus rate weighs clips by their words: it differs from the per-clip mean on unequal lengths
    for perm in itertools.permutations(res):
        assert METRICS["wer"].value(list(perm), None, ctx) == pytest.approx(3 / 8)


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    return tmp_path / "weights"


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    """A random Whisper of tiny.en's layout in OpenAI's checkpoint format (fp16 weights, dims)."""
    torch.manual_seed(0)
    model = A.build_model(TINY_EN)
    path = tmp_path_factory.mktemp("whisper") / "tiny.en.pt"
    torch.save({"dims": dict(TINY_EN), "model_state_dict": {k: v.half() for k, v in model.state_dict().items()}}, path)
    return path


def test_a_random_whisper_holds_no_uninitialised_memory():
    """whisper leaves the decoder's positional embedding as torch.empty; a random model draws it (else NaN at times)."""
    torch.manual_seed(0)
    model = A.build_model(TINY_EN)
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    assert 0.005 < float(model.decoder.positional_embedding.std()) < 0.02


def place(tiny_file, wdir, monkeypatch, trust=True):
    wdir.mkdir(parents=True, exist_ok=True)
    (wdir / "tiny.en.pt").write_bytes(tiny_file.read_bytes())
    if trust:  # let the registry publish this random file's checksum, as whisper's table publishes the real one's
        monkeypatch.setitem(W.REGISTRY, "whisper-tiny.en",
                            dataclasses.replace(W.REGISTRY["whisper-tiny.en"], sha256=W.sha256_of(wdir / "tiny.en.pt")))


def test_random_tiny_whisper_loads_and_transcribes_end_to_end(tiny_file, wdir, monkeypatch):
    place(tiny_file, wdir, monkeypatch)
    feats = A.WhisperWER("tiny.en", wdir, sample_len=6)  # random weights decode junk: 6 tokens per window bound it
    rng = np.random.default_rng(0)
    clip = AVClip(np.zeros((10, 16, 16, 3), np.uint8), 10, rng.normal(0, 0.1, (2, 22050)).astype(np.float32), 22050,
                  {"transcript": "A red ball bounces, twice."})
    got, conv = feats.compute(clip)
    saved = torch.load(tiny_file, weights_only=True)["model_state_dict"]
    own = feats.model.state_dict()
    assert all(torch.equal(own[k], v.float()) for k, v in saved.items())  # fp16 file widened to fp32
    assert conv == ["down-mixed 2 channels to mono", "resampled audio 22050 -> 16000 Hz"]
    hyp = str(got["hypothesis"][0])
    ref_words, hyp_words = ["a", "red", "ball", "bounces", "twice"], A.normalise(hyp)
    assert got["words"].tolist() == [5.0]
    assert got["errors"].tolist() == [float(distance_rendition(tuple(ref_words), tuple(hyp_words)))]
    assert feats.protocol["weights_sha256"] == W.sha256_of(wdir / "tiny.en.pt")
    none, why = feats.compute(AVClip(clip.video, 10, clip.audio, 22050))
    assert none["errors"].shape == (0,) and "no transcript" in why[0]
    empty, why = feats.compute(AVClip(clip.video, 10, clip.audio, 22050, {"transcript": "?!"}))
    assert empty["words"].shape == (0,) and "normalises to no words" in why[0]


def test_a_tampered_or_foreign_file_is_refused(tiny_file, wdir, monkeypatch):
    assert W.REGISTRY["whisper-tiny.en"].sha256 == "d3dd57d32accea0b295c96e26691aa14d8822fac7d9d27d5dc00b4ca2826dd03"
    place(tiny_file, wdir, monkeypatch, trust=False)
    with pytest.raises(W.WeightsError, match="differs from the published d3dd57d3"):
        A.WhisperWER("tiny.en", wdir).load()  # not OpenAI's file: refused even on first use
    place(tiny_file, wdir, monkeypatch)
    with (wdir / "tiny.en.pt").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(W.WeightsError, match="differs from the published"):
        A.WhisperWER("tiny.en", wdir).load()
    torch.save({"model_state_dict": {}}, wdir / "tiny.en.pt")  # no dims: not whisper's format
    monkeypatch.setitem(W.REGISTRY, "whisper-tiny.en",
                        dataclasses.replace(W.REGISTRY["whisper-tiny.en"], sha256=W.sha256_of(wdir / "tiny.en.pt")))
    with pytest.raises(W.WeightsError, match="not whisper's checkpoint format"):
        A.WhisperWER("tiny.en", wdir).load()
    with pytest.raises(Exception, match="Whisper model"):
        A.WhisperWER("huge", wdir)


def test_the_cache_key_follows_the_transcript():
    feats = A.WhisperWER("large-v3")
    assert feats.clip_key("m", {"transcript": "a"}) != feats.clip_key("m", {"transcript": "b"})
    assert feats.clip_key("m", {"transcript": "a"}) == feats.clip_key("m", {"transcript": "a", "caption": "x"})


def test_eval_reads_the_manifest_transcript(tiny_file, wdir, monkeypatch, tmp_path, capsys):
    import json

    from ccl_bench.cli import main
    from ccl_bench.evaluate import evaluate
    from ccl_bench.features import BACKBONES

    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    main(["suite", "build", "av-sync", "--rendering", "tiny", "--num", "2", "--out", str(tmp_path / "s"), "--quiet"])
    capsys.readouterr()
    mpath = tmp_path / "s" / "manifest.json"
    manifest = json.loads(mpath.read_text())
    manifest["clips"][0]["transcript"] = "a red ball bounces"  # the second clip has none
    mpath.write_text(json.dumps(manifest))
    place(tiny_file, wdir, monkeypatch)
    monkeypatch.setitem(BACKBONES, "whisper-tiny.en", lambda wd, dev: A.WhisperWER("tiny.en", wd, dev, sample_len=6))
    res, pred, _ = evaluate(tmp_path / "s", metrics=["wer@whisper-tiny.en"], weights_dir=wdir, cache_dir=tmp_path / "c",
                            bootstrap=0, show_progress=False, details=True)
    per_clip = pred.results["whisper-tiny.en"]
    assert [len(r["words"]) for r in per_clip] == [1, 0] and per_clip[0]["words"][0] == 4
    want = A.edit_distance("a red ball bounces".split(), A.normalise(str(per_clip[0]["hypothesis"][0]))) / 4
    entry = res["metrics"]["wer@whisper-tiny.en"]
    assert entry["value"] == pytest.approx(want) and entry["n"] == 2
