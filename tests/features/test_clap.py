"""LAION-CLAP (fad-clap, clap-score): the official key layout on the meta device, random weights saved in
the checkpoint's own wrapping and loaded through the weights manager, a tampered file refused, and the
preprocessing (front end, image folding, fadtk windows, repeat padding, int16 round trip, Swin constants,
byte-level BPE) against independent renditions."""

import json

import numpy as np
import pytest
import torch

from ccl_bench import weights as W
from ccl_bench.features import clap as C
from ccl_bench.features import roberta as R
from ccl_bench.io import AVClip
from ccl_bench.metrics import METRICS, Context

CORPUS = ["a dog barks twice", "the dog's bark echoes", "rain falls on a tin roof", "a bell rings 3 times",
          "birds sing  in the morning", "thunder rumbles; rain falls", "waves crash on the shore"]


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    return tmp_path / "weights"


def test_full_layouts_are_the_official_checkpoints():
    with torch.device("meta"):
        tiny, base = C.CLAP(C.AUDIO_MODELS["HTSAT-tiny"]).state_dict(), C.CLAP(C.AUDIO_MODELS["HTSAT-base"]).state_dict()
    s = {k: tuple(v.shape) for k, v in tiny.items()}
    # 630k-audioset-best.pt: HTS-AT tiny (96 wide, 2-2-6-2), RoBERTa-base, two 512-d projections.
    assert s["audio_branch.spectrogram_extractor.stft.conv_real.weight"] == (513, 1, 1024)
    assert s["audio_branch.logmel_extractor.melW"] == (513, 64) and s["audio_branch.bn0.running_var"] == (64,)
    assert s["audio_branch.patch_embed.proj.weight"] == (96, 1, 4, 4)
    assert s["audio_branch.layers.0.blocks.0.attn.relative_position_bias_table"] == (225, 4)
    assert s["audio_branch.layers.0.blocks.0.attn.relative_position_index"] == (64, 64)
    assert s["audio_branch.layers.0.blocks.1.attn_mask"] == (64, 64, 64)  # 8 x 8 windows of the 64 x 64 grid
    assert s["audio_branch.layers.2.blocks.5.attn_mask"] == (4, 64, 64)
    assert "audio_branch.layers.3.blocks.1.attn_mask" not in s  # an 8 x 8 grid is one window: never shifted
    assert s["audio_branch.layers.0.downsample.reduction.weight"] == (192, 384)
    assert "audio_branch.layers.3.downsample.norm.weight" not in s
    assert s["audio_branch.norm.weight"] == (768,) and s["audio_branch.tscam_conv.weight"] == (527, 768, 2, 3)
    assert s["audio_branch.head.weight"] == (527, 527) and s["audio_projection.0.weight"] == (512, 768)
    assert s["text_branch.embeddings.word_embeddings.weight"] == (50265, 768)
    assert s["text_branch.embeddings.position_embeddings.weight"] == (514, 768)
    assert s["text_branch.embeddings.token_type_embeddings.weight"] == (1, 768)
    assert s["text_branch.encoder.layer.11.attention.self.query.weight"] == (768, 768)
    assert s["text_branch.encoder.layer.11.attention.output.LayerNorm.bias"] == (768,)
    assert s["text_branch.encoder.layer.0.intermediate.dense.weight"] == (3072, 768)
    assert s["text_branch.encoder.layer.0.output.dense.weight"] == (768, 3072)
    assert s["text_branch.pooler.dense.weight"] == (768, 768) and s["text_projection.2.weight"] == (512, 512)
    assert s["audio_transform.sequential.3.weight"] == (512, 512) and s["logit_scale_t"] == ()
    # audio: 3 + 5 + 4 + 12 blocks x 14 + 5 shift masks + 3 merges x 3 + 6; text: 5 + 12 x 16 + 2; heads: 18
    assert len(s) == 200 + 199 + 18
    assert sum(k.startswith("text_branch.") for k in s) == 199
    b = {k: tuple(v.shape) for k, v in base.items()}
    assert b["audio_branch.patch_embed.proj.weight"] == (128, 1, 4, 4) and b["audio_projection.0.weight"] == (512, 1024)
    assert "audio_branch.layers.2.blocks.11.attn.qkv.weight" in b and b["audio_branch.tscam_conv.weight"] == (527, 1024, 2, 3)
    assert len(b) == len(s) + 6 * 14 + 3


# ---- a synthetic RoBERTa tokenizer: byte-level BPE learnt on a few captions --------------------------------

def learn_bpe(texts, merges=60):
    """Greedy byte-level BPE on `texts` -> (vocab.json text, merges.txt text). Ids: 4 specials, the 256
    byte characters, then one token per merge; a merge whose result exists already is skipped, so each
    token has one merge (the rank a tiktoken rendition reads)."""
    import regex

    table = R.byte_characters()
    words = [[table[b] for b in p.encode()] for t in texts for p in regex.findall(R.PATTERN, t)]
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, **{table[b]: 4 + b for b in range(256)}}
    rules = []
    while len(rules) < merges:
        counts = {}
        for w in words:
            for pair in zip(w, w[1:], strict=False):
                if pair[0] + pair[1] not in vocab:
                    counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        pair = max(sorted(counts), key=counts.get)
        rules.append(pair)
        vocab[pair[0] + pair[1]] = len(vocab)
        for w in words:
            i = 0
            while i < len(w) - 1:
                if (w[i], w[i + 1]) == pair:
                    w[i : i + 2] = [pair[0] + pair[1]]
                i += 1
    return json.dumps(vocab), "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in rules)


def tiktoken_pieces(vocab_json, texts):
    """tiktoken (an independent byte-level BPE in Rust) over the same ranks: -> token byte strings per text."""
    import tiktoken

    back = {c: b for b, c in R.byte_characters().items()}
    vocab = json.loads(vocab_json)
    ranks = {bytes(back[ch] for ch in tok): i - 4 for tok, i in vocab.items() if i >= 4}
    enc = tiktoken.Encoding("synthetic", pat_str=R.PATTERN, mergeable_ranks=ranks, special_tokens={})
    return [[enc.decode_single_token_bytes(t) for t in enc.encode_ordinary(x)] for x in texts]


TEXTS = ["a dog barks twice", "The DOG's bark, echoing!", "  rain   falls\non a tin roof 123 ", "été: ünïcode ♪ 音",
         "they're here; we'll see", "bells ring 3 times", ""]


def test_byte_level_bpe_matches_tiktoken():
    vocab_json, merges_txt = learn_bpe(CORPUS)
    bpe = R.ByteLevelBPE.from_texts(vocab_json, merges_txt)
    back = {c: b for b, c in R.byte_characters().items()}
    inverse = {i: t for t, i in bpe.vocab.items()}
    want = tiktoken_pieces(vocab_json, TEXTS)
    for text, pieces in zip(TEXTS, want, strict=True):
        got = [bytes(back[ch] for ch in inverse[i]) for i in bpe.encode(text)]
        assert got == pieces, text
        assert b"".join(got) == text.encode()
    assert any(len(p) > 2 for p in want[0])  # the merges were used


def test_tokenizer_frames_pads_and_truncates():
    vocab_json, merges_txt = learn_bpe(CORPUS)
    bpe = R.ByteLevelBPE.from_texts(vocab_json, merges_txt)
    ids, mask = bpe(["a dog barks", "x" * 200])
    n = len(bpe.encode("a dog barks"))
    assert ids.shape == mask.shape == (2, 77)
    assert ids[0, 0] == 0 and ids[0, n + 1] == 2 and (ids[0, n + 2 :] == 1).all() and mask[0].sum() == n + 2
    assert ids[1, 0] == 0 and ids[1, 76] == 2 and mask[1].all()  # 75 tokens kept of 200


# ---- Swin constants and the audio preprocessing ----------------------------------------------------------

def test_swin_constants_match_loop_renditions():
    w = 4
    idx = C.relative_position_index(w)
    for i in range(w * w):
        for j in range(w * w):
            dy, dx = i // w - j // w, i % w - j % w
            assert idx[i, j] == (dy + w - 1) * (2 * w - 1) + (dx + w - 1)
    res, shift = 8, 2
    mask = C.shift_mask(res, w, shift)

    def region(y, x):  # regions of the rolled grid: before the last window, the last window less shift, the shift
        band = (lambda v: 0 if v < res - w else 1 if v < res - shift else 2)
        return band(y) * 3 + band(x)

    for win in range(mask.shape[0]):
        oy, ox = (win // (res // w)) * w, (win % (res // w)) * w
        for i in range(w * w):
            for j in range(w * w):
                same = region(oy + i // w, ox + i % w) == region(oy + j // w, ox + j % w)
                assert mask[win, i, j] == (0.0 if same else -100.0)


def naive_swin_block(blk, x, res, w, shift):
    """A shifted-window block token by token: token (i, j) sits at ((i - shift) % res, (j - shift) % res)
    of the rolled grid and attends to the tokens of its window there that lie in the same region (the
    last window row/column less the shift, the shift, the rest); bias by relative offset in the window."""
    c = x.shape[-1]
    heads = blk.attn.heads
    h = blk.norm1(x)[0]
    q, k, v = blk.attn.qkv(h).view(res * res, 3, heads, c // heads).unbind(1)
    band = (lambda u: 0 if u < res - w else 1 if u < res - shift else 2)
    pos = [((i - shift) % res, (j - shift) % res) for i in range(res) for j in range(res)]
    out = torch.zeros(res * res, heads, c // heads, dtype=x.dtype)
    for a, (ya, xa) in enumerate(pos):
        peers = [b for b, (yb, xb) in enumerate(pos) if (yb // w, xb // w) == (ya // w, xa // w)
                 and (band(yb), band(xb)) == (band(ya), band(xa))]
        for hd in range(heads):
            bias = torch.stack([blk.attn.relative_position_bias_table[
                (ya % w - pos[b][0] % w + w - 1) * (2 * w - 1) + (xa % w - pos[b][1] % w + w - 1), hd] for b in peers])
            att = torch.softmax(torch.stack([q[a, hd] @ k[b, hd] for b in peers]) * (c // heads) ** -0.5 + bias, 0)
            out[a, hd] = (att[:, None] * v[peers, hd]).sum(0)
    y = x + blk.attn.proj(out.reshape(1, res * res, c))
    return y + blk.mlp(blk.norm2(y))


@pytest.mark.parametrize("shifted", [True, False])
def test_swin_block_matches_a_token_by_token_rendition(shifted):
    torch.manual_seed(0)
    blk = C.SwinBlock(dim=8, res=8, heads=2, window=4, shifted=shifted, mlp_ratio=2.0).double()
    with torch.no_grad():
        blk.attn.relative_position_bias_table.normal_()
    x = torch.randn(1, 64, 8, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(blk(x), naive_swin_block(blk, x, 8, 4, 2 if shifted else 0), rtol=1e-9, atol=1e-9)
        two = torch.cat([torch.randn_like(x), x])  # a batch: each clip as if alone
        torch.testing.assert_close(blk(two)[1:], blk(x), rtol=1e-9, atol=1e-9)


def test_patch_merging_concatenates_each_2x2_block_in_the_reference_order():
    torch.manual_seed(1)
    merge = C.PatchMerging(dim=3, res=4).double()
    x = torch.randn(1, 16, 3, dtype=torch.float64)
    grid = x.view(4, 4, 3)
    order = ((0, 0), (1, 0), (0, 1), (1, 1))  # (row, column) offsets inside each 2 x 2 block
    want = torch.stack([torch.cat([grid[2 * p + dy, 2 * q + dx] for dy, dx in order]) for p in range(2) for q in range(2)])[None]
    with torch.no_grad():
        torch.testing.assert_close(merge(x), merge.reduction(merge.norm(want)))


def naive_roberta(m, ids, mask):
    """RoBERTa from its definition, one sequence and one head at a time: positions pad + 1, pad + 2, ...
    for the tokens, pad for padding; each query attends to the non-padding keys only."""
    e, out = m.embeddings, []
    for row, keep in zip(ids, mask.bool(), strict=True):
        pos = torch.tensor([1 + 1 + i if k else 1 for i, k in enumerate(keep.tolist())])
        x = e.LayerNorm(e.word_embeddings.weight[row] + e.position_embeddings.weight[pos] + e.token_type_embeddings.weight[0])
        for layer in m.encoder.layer:
            sa = layer.attention.self
            heads, d = sa.heads, x.shape[-1] // sa.heads
            q, k, v = sa.query(x), sa.key(x), sa.value(x)
            ctx = torch.cat([torch.softmax(q[:, h * d : (h + 1) * d] @ k[keep, h * d : (h + 1) * d].T / d**0.5, -1)
                             @ v[keep, h * d : (h + 1) * d] for h in range(heads)], -1)
            a = layer.attention.output.LayerNorm(x + layer.attention.output.dense(ctx))
            x = layer.output.LayerNorm(a + layer.output.dense(torch.nn.functional.gelu(layer.intermediate.dense(a))))
        out.append(torch.tanh(m.pooler.dense(x[0])))
    return torch.stack(out)


def test_roberta_matches_a_sequence_by_sequence_rendition():
    torch.manual_seed(2)
    m = R.RobertaModel(R.RobertaConfig(vocab=40, width=16, layers=2, heads=4, ffn=32, positions=20)).double().eval()
    ids = torch.tensor([[0, 5, 9, 7, 2, 1, 1, 1], [0, 11, 12, 13, 14, 15, 16, 2]])
    mask = (ids != 1).long()
    with torch.no_grad():
        torch.testing.assert_close(m(ids, mask), naive_roberta(m, ids, mask), rtol=1e-9, atol=1e-9)


def np_log_mel(wave):
    """torchlibrosa as LAION-CLAP configures it, in numpy: reflect-pad 512, periodic Hann 1024 every 480,
    |rfft|^2, Slaney mels 50-14000 Hz, 10 log10(max(x, 1e-10))."""
    import librosa

    x = np.pad(wave, 512, mode="reflect")
    n = 1 + (len(x) - 1024) // 480
    frames = np.stack([x[i * 480 : i * 480 + 1024] for i in range(n)])
    power = np.abs(np.fft.rfft(frames * np.hanning(1025)[:1024], 1024)) ** 2
    mel = librosa.filters.mel(sr=48000, n_fft=1024, n_mels=64, fmin=50, fmax=14000)
    return 10 * np.log10(np.maximum(power @ mel.T, 1e-10))


def test_front_end_matches_numpy():
    wave = np.random.default_rng(1).normal(0, 0.3, 48000).astype(np.float32)
    got = C.HTSAT(C.HTSATConfig(depths=(1, 1, 1, 1))).init_front_end().log_mel(torch.from_numpy(wave)[None])
    want = np_log_mel(wave.astype(np.float64))
    assert got.shape[2:] == want.shape == (101, 64)
    np.testing.assert_allclose(got[0, 0].detach().double().numpy(), want, atol=2e-3)


def test_fold_to_image_matches_a_loop():
    mel = torch.randn(1, 1, 1001, 64, dtype=torch.float64)
    img = C.fold_to_image(mel)
    # torch's bicubic resize with aligned corners, then strip s of 256 frames -> rows s*64 .. s*64+63.
    stretched = torch.nn.functional.interpolate(mel, (1024, 64), mode="bicubic", align_corners=True)[0, 0]
    assert torch.equal(stretched[0], mel[0, 0, 0]) and torch.equal(stretched[-1], mel[0, 0, -1])
    assert img.shape == (1, 1, 256, 256)
    for s in range(4):
        for f in (0, 17, 63):
            assert torch.equal(img[0, 0, s * 64 + f], stretched[s * 256 : (s + 1) * 256, f])


def test_fadtk_windows_quantisation_and_repeat_padding():
    rng = np.random.default_rng(2)
    audio = rng.uniform(-1.2, 1.2, int(2.5 * 48000)).astype(np.float32)
    win = C.fadtk_windows(audio)
    padded = np.concatenate([audio, np.zeros(480000, np.float32)])  # a rendition by one long zero tail
    want = np.stack([padded[k * 48000 : k * 48000 + 480000] for k in range(3)])
    assert win.shape == (3, 480000) and np.array_equal(win, want)
    assert C.fadtk_windows(np.ones(48001, np.float32)).shape == (2, 480000)
    q = C.quantize_int16(audio)
    want_q = (torch.from_numpy(audio).clamp(-1, 1) * 32767.0).to(torch.int16).to(torch.float32) / 32767.0
    assert np.array_equal(q, want_q.numpy()) and q.max() == 1.0 and len(np.unique(q)) < len(audio)
    three = rng.normal(0, 0.1, 3 * 48000).astype(np.float32)
    pad = C.repeat_pad(three)
    assert np.array_equal(pad, np.concatenate([three, three, three, np.zeros(48000, np.float32)]))
    seven = rng.normal(0, 0.1, 7).astype(np.float32)
    assert np.array_equal(C.repeat_pad(seven)[: 7 * (480000 // 7)], np.tile(seven, 480000 // 7))
    clip = C.preprocess(three + 0.5, C.PRESETS["av-benchmark"])  # DC removed, not quantised, one input
    assert clip.shape == (1, 480000) and abs(clip[0, : len(three)].mean()) < 1e-6
    nine = rng.normal(0, 0.1, 9 * 48000).astype(np.float32)
    long = C.preprocess(nine, C.PRESETS["av-benchmark"])  # cut to 8 s: floor(10 / 8) = 1 copy, then 2 s of zeros
    np.testing.assert_allclose(long[0, : 8 * 48000], nine[: 8 * 48000] - nine.mean(), atol=1e-6)
    assert not long[0, 8 * 48000 :].any()


# ---- random weights through the manager ----------------------------------------------------------------


NARROW = C.HTSATConfig(width=32, depths=(2, 2, 2, 2), heads=(1, 2, 4, 8))  # the same code, fast on a CPU


def random_clap(preset, text_cfg, audio_cfg=None, seed=0):
    torch.manual_seed(seed)
    model = C.build_clap(C.PRESETS[preset], text_cfg, audio_cfg)
    model.audio_branch.init_front_end()
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.02)
        model.audio_branch.bn0.running_mean.normal_(-40, 5)
        model.audio_branch.bn0.running_var.uniform_(50, 150)
    return model.eval()


def save_official(model, path):
    """As LAION's training saved it: DDP `module.` keys under `state_dict`, with `position_ids`."""
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    state["module.text_branch.embeddings.position_ids"] = torch.arange(514)[None]
    path.parent.mkdir(parents=True, exist_ok=True)
    # the optimizer's learning rate a numpy float, as LAION's scheduler leaves it
    torch.save({"epoch": 15, "name": "random", "state_dict": state, "optimizer": {"param_groups": [{"lr": np.float64(1e-4)}]}},
               path)


def write_tokenizer(folder):
    vocab_json, merges_txt = learn_bpe(CORPUS)
    (folder / "roberta-base").mkdir(parents=True, exist_ok=True)
    (folder / "roberta-base" / "vocab.json").write_text(vocab_json)
    (folder / "roberta-base" / "merges.txt").write_text(merges_txt)
    return R.RobertaConfig(vocab=len(json.loads(vocab_json)), layers=1)


def test_fad_clap_loads_htsat_tiny_through_the_manager(wdir):
    # HTSAT-tiny's widths and heads with stage 3 at depth 2 of 6 (a 10 s window costs seconds on a loaded
    # 2-core CPU); the text branch, unused by fad-clap, at one layer and a small vocabulary.
    text, audio_cfg = R.RobertaConfig(vocab=300, layers=1), C.HTSATConfig(depths=(2, 2, 2, 2))
    model = random_clap("fadtk-audio", text, audio_cfg)
    save_official(model, wdir / "630k-audioset-best.pt")
    feats = C.ClapFeatures("fadtk-audio", wdir, text=text, audio=audio_cfg)
    audio = np.random.default_rng(0).normal(0, 0.2, (2, int(0.8 * 16000))).astype(np.float32)
    got, conv = feats.compute(AVClip(np.zeros((2, 8, 8, 3), np.uint8), 1, audio, 16000))
    assert "resampled audio 16000 -> 48000 Hz" in conv and "down-mixed 2 channels to mono" in conv
    from ccl_bench.io import resample_audio, to_channels

    x = C.preprocess(resample_audio(to_channels(audio, 1), 16000, 48000)[0], C.PRESETS["fadtk-audio"])
    with torch.no_grad():
        want = model.audio_embedding(torch.from_numpy(x)).double().numpy()
    assert got["features"].shape == (1, 512)  # 0.8 s: one window (the window split is tested above)
    np.testing.assert_allclose(got["features"], want, rtol=1e-3, atol=1e-4)
    assert np.array_equal(got["features"], got["features"].astype(np.float16))  # stored in float16, as fadtk
    np.testing.assert_allclose(np.linalg.norm(got["features"], axis=1), 1.0, atol=1e-3)
    assert feats.protocol["weights_sha256"] == W.sha256_of(wdir / "630k-audioset-best.pt")
    # the metric: Frechet over the windows of every clip of each set
    rng = np.random.default_rng(1)
    ref = [{"features": got["features"] + rng.normal(0, 0.01, (3, 512))}]
    assert METRICS["fad-clap"].value([got, {"features": got["features"] + 0.01}], ref, Context()) > 0
    assert METRICS["fad-clap"].value([got], ref, Context()) is None  # one window: no covariance


def test_a_tampered_checkpoint_is_refused(wdir):
    text = R.RobertaConfig(vocab=300, layers=1)
    save_official(random_clap("fadtk-audio", text, NARROW), wdir / "630k-audioset-best.pt")
    C.ClapFeatures("fadtk-audio", wdir, text=text, audio=NARROW).load()  # records its sha256
    path = wdir / "630k-audioset-best.pt"
    data = bytearray(path.read_bytes())
    data[-200] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(W.WeightsError, match="differs from the one recorded on first use"):
        C.ClapFeatures("fadtk-audio", wdir, text=text, audio=NARROW).load()


def test_a_checkpoint_of_another_layout_is_refused(wdir):
    text = R.RobertaConfig(vocab=300, layers=1)
    save_official(random_clap("fadtk-audio", text, NARROW), wdir / "630k-audioset-best.pt")
    with pytest.raises(W.WeightsError, match="not the expected layout"):
        C.ClapFeatures("fadtk-audio", wdir, text=text).load()  # full depth 6 expected in stage 3


def test_clap_score_reads_the_caption_through_the_tokenizer_files(wdir):
    text = write_tokenizer(wdir)
    audio_cfg = NARROW  # av-benchmark's is HTSAT-base (2-2-12-2, width 128): narrower here
    model = random_clap("av-benchmark", text, audio_cfg)
    save_official(model, wdir / "music_speech_audioset_epoch_15_esc_89.98.pt")
    feats = C.ClapFeatures("av-benchmark", wdir, text=text, audio=audio_cfg)
    audio = np.random.default_rng(3).normal(0, 0.2, (1, 9 * 48000)).astype(np.float32)
    clip = AVClip(np.zeros((2, 8, 8, 3), np.uint8), 1, audio, 48000, {"caption": "a dog barks twice"})
    got, conv = feats.compute(clip)
    bpe = R.ByteLevelBPE.from_texts(*learn_bpe(CORPUS))
    with torch.no_grad():
        a = model.audio_embedding(torch.from_numpy(C.preprocess(audio[0], C.PRESETS["av-benchmark"])))
        t = model.text_embedding(*bpe(["a dog barks twice"]))
    assert got["score"].shape == (1,) and got["score"][0] == pytest.approx(float(a[0] @ t[0]), abs=1e-5)
    assert conv == ["cut to the first 8 s"]
    other, _ = feats.compute(AVClip(clip.video, 1, audio, 48000, {"caption": "waves crash on the shore"}))
    assert other["score"][0] != pytest.approx(got["score"][0], abs=1e-6)
    none, why = feats.compute(AVClip(clip.video, 1, audio, 48000))
    assert none["score"].shape == (0,) and "no caption" in why[0]
    assert METRICS["clap-score"].value([got, none], None, Context()) == pytest.approx(got["score"][0])
    assert METRICS["clap-score"].value([none], None, Context()) is None
    assert feats.clip_key("m", {"caption": "a"}) != feats.clip_key("m", {"caption": "b"})


def test_missing_files_name_what_to_place_and_where(wdir):
    with pytest.raises(W.WeightsError) as e:
        C.ClapFeatures("av-benchmark", wdir).load()
    assert "music_speech_audioset_epoch_15_esc_89.98.pt" in str(e.value) and str(wdir) in str(e.value)
    save_official(random_clap("fadtk-audio", R.RobertaConfig(vocab=300, layers=1), NARROW),
                  wdir / "music_speech_audioset_epoch_15_esc_89.98.pt")
    with pytest.raises(W.WeightsError) as e:  # the checkpoint is there: now the tokenizer is named
        C.ClapFeatures("av-benchmark", wdir).load()
    assert str(wdir / "roberta-base" / "vocab.json") in str(e.value) and "roberta-base/resolve/main/vocab.json" in str(e.value)


def test_tokenizer_files_are_checked_like_weights(wdir):
    (wdir / "roberta-base").mkdir(parents=True)
    page = wdir / "roberta-base" / "vocab.json"
    page.write_text("<!DOCTYPE html><html>rate limited</html>")
    with pytest.raises(W.WeightsError, match="not a UTF-8 text file"):
        W.load_text("roberta-vocab", wdir)
    write_tokenizer(wdir)
    text, digest = W.load_text("roberta-vocab", wdir)  # recorded on first use
    assert json.loads(text)["<pad>"] == 1 and digest == W.sha256_of(page)
    page.write_text(text.replace('"<pad>": 1', '"<pad>": 7'))
    with pytest.raises(W.WeightsError, match="recorded on first use"):
        W.load_text("roberta-vocab", wdir)
