"""A Wan2.1 T2V checkpoint loads into the video stream, through the files a user has."""

import pytest
import torch

import reference_impl as R
from reference_impl.streams import CheckpointError, load_wan_checkpoint
from tests.reference_impl.wan_layout import wan_t2v_layout


def test_video_stream_has_exactly_the_wan_layout():
    for scale, (dim, ffn, layers) in {"wan-1.3b": (1536, 8960, 30), "wan-14b": (5120, 13824, 40)}.items():
        stream = R.build_model("ccl", scale, device="meta").video_stream
        got = {k: tuple(v.shape) for k, v in stream.state_dict().items()}
        assert got == wan_t2v_layout(dim, ffn, layers)


def _random_wan(layout, dtype=torch.bfloat16, prefix=""):
    g = torch.Generator().manual_seed(0)
    return {prefix + k: torch.randn(s, generator=g, dtype=torch.float32).to(dtype) for k, s in layout.items()}


def test_random_wan_1_3b_file_loads_with_no_missing_or_unexpected_key(tmp_path):
    from safetensors.torch import save_file

    layout = wan_t2v_layout(1536, 8960, 30)
    path = tmp_path / "diffusion_pytorch_model.safetensors"
    state = {k: torch.empty(s, dtype=torch.bfloat16).normal_() for k, s in layout.items()}
    save_file(state, str(path))
    del state
    stream = R.build_model("ccl", "wan-1.3b", device="meta").video_stream
    report = load_wan_checkpoint(stream, path)
    assert report.ok and report.prefix == "" and len(report.used) == len(layout)
    assert not any(p.is_meta for p in stream.parameters())
    blob = stream.state_dict()["blocks.29.ffn.2.weight"]
    assert blob.shape == (1536, 8960) and blob.dtype == torch.bfloat16


@pytest.mark.parametrize("fmt,prefix,nest", [("pth", "model.", "state_dict"), ("pt", "video.", None),
                                             ("safetensors", "model.diffusion_model.", None)])
def test_formats_prefixes_and_values(tmp_path, fmt, prefix, nest):
    model = R.build_model("ccl", "tiny", video_in_dim=16, text_dim=4096)
    cfg = model.cfg
    layout = wan_t2v_layout(cfg.video_dim, cfg.video_ffn_dim, cfg.layers, text_dim=4096)
    state = _random_wan(layout, torch.float32, prefix)
    path = tmp_path / f"wan.{fmt}"
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save({nest: state} if nest else state, path)
    report = load_wan_checkpoint(model.video_stream, path)
    assert report.ok and report.prefix == prefix
    for k, v in model.video_stream.state_dict().items():
        assert torch.equal(v, state[prefix + k])


def test_missing_unexpected_and_mismatched_keys_are_reported(tmp_path):
    model = R.build_model("ccl", "tiny", video_in_dim=16, text_dim=4096)
    cfg = model.cfg
    state = _random_wan(wan_t2v_layout(cfg.video_dim, cfg.video_ffn_dim, cfg.layers, text_dim=4096), torch.float32)
    del state["blocks.1.ffn.0.bias"]
    state["blocks.0.cross_attn.k_img.weight"] = torch.zeros(3)  # an I2V key
    state["head.head.weight"] = torch.zeros(5, 5)
    with pytest.raises(CheckpointError) as info:
        load_wan_checkpoint(model.video_stream, state)
    msg = str(info.value)
    assert "blocks.1.ffn.0.bias" in msg and "k_img" in msg and "head.head.weight: (5, 5)" in msg
    report = load_wan_checkpoint(model.video_stream, state, strict=False)
    assert report.missing == ["blocks.1.ffn.0.bias"]
    assert report.mismatched == [f"head.head.weight: (5, 5) vs ({4 * 16}, {cfg.video_dim})"]
    assert report.unexpected == ["blocks.0.cross_attn.k_img.weight"]
    with pytest.raises(CheckpointError, match="not found"):
        load_wan_checkpoint(model.video_stream, tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="not a Wan2.1 DiT checkpoint"):
        load_wan_checkpoint(model.video_stream, {"foo": torch.zeros(1)})


def _tiny_wan(**fields):
    return R.build_model("ccl", "tiny", video_in_dim=16, text_dim=4096, **fields)


def test_wan_text_convention_pads_to_512_and_attends_every_slot(tmp_path):
    """A random Wan2.1-layout file loaded with text_pad_to=512, text_mask=false computes Wan's way:
    the caption zero-padded to 512 slots, all of them attended (the masked computation differs)."""
    wan = _tiny_wan(text_pad_to=512, text_mask=False)
    plain = _tiny_wan()  # the batch's own length, padding masked
    cfg = wan.cfg
    state = _random_wan(wan_t2v_layout(cfg.video_dim, cfg.video_ffn_dim, cfg.layers, text_dim=4096), torch.float32)
    for m in (wan, plain):
        load_wan_checkpoint(m.video_stream, state)
    g = torch.Generator().manual_seed(3)
    video, t = torch.randn(2, 16, 2, 4, 4, generator=g), torch.rand(2, generator=g)
    text = torch.randn(2, 7, 4096, generator=g)
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    text = text * mask[..., None]  # the second caption has 4 tokens, zero-padded to 7
    padded = torch.cat([text, torch.zeros(2, 512 - 7, 4096)], 1)
    with torch.no_grad():
        got = wan.video_stream(video, t, text, mask)
        want = plain.video_stream(video, t, padded, None)  # Wan: 512 slots, no mask
        masked = plain.video_stream(video, t, text, mask)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert (got - masked).abs().max() > 1e-3  # the convention matters
    assert R.resolve_config("ccl", "wan-1.3b").text_pad_to == 512 and not R.resolve_config("ccl", "wan-14b").text_mask


def test_init_from_a_wan_file_reproduces_the_loaded_stream(tmp_path):
    from safetensors.torch import save_file

    model = _tiny_wan()
    cfg = model.cfg
    state = _random_wan(wan_t2v_layout(cfg.video_dim, cfg.video_ffn_dim, cfg.layers, text_dim=4096), torch.float32,
                        "model.diffusion_model.")
    path = tmp_path / "wan2.1_t2v.safetensors"
    save_file(state, str(path))
    before_audio = {k: v.clone() for k, v in model.audio_stream.state_dict().items()}
    report = R.init_from(model, path)
    assert report.kind == "wan2.1" and report.loaded == {"video": len(state)}
    reference = _tiny_wan().video_stream
    reference.load_state_dict({k[len("model.diffusion_model."):]: v for k, v in state.items()})
    g = torch.Generator().manual_seed(4)
    video, t, text = torch.randn(1, 16, 2, 4, 4, generator=g), torch.rand(1, generator=g), torch.randn(1, 5, 4096, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(model.video_stream(video, t, text), reference(video, t, text), rtol=0, atol=0)
    assert all(torch.equal(v, before_audio[k]) for k, v in model.audio_stream.state_dict().items())


def test_init_from_a_train_folder_and_bad_paths(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    trained = R.build_model("ccl", "tiny")
    (tmp_path / "run").mkdir()
    save_file({k: v.contiguous() for k, v in trained.state_dict().items()}, str(tmp_path / "run" / "ema.safetensors"))
    whole = R.build_model("ccl", "tiny")
    assert R.init_from(whole, tmp_path / "run").loaded == {"video": len(trained.video_stream.state_dict()),
                                                          "audio": len(trained.audio_stream.state_dict()),
                                                          "interaction": len(trained.interactions.state_dict())}
    assert all(torch.equal(v, trained.state_dict()[k]) for k, v in whole.state_dict().items())
    other = R.build_model("gated", "tiny")  # another interaction: the streams only
    assert set(R.init_from(other, tmp_path / "run").loaded) == {"video", "audio"}
    with pytest.raises(CheckpointError, match="no such file or folder"):
        R.init_from(other, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="needs ema.safetensors"):
        R.init_from(other, tmp_path / "empty")
    save_file({"foo": torch.zeros(2)}, str(tmp_path / "foo.safetensors"))
    with pytest.raises(CheckpointError, match="neither a Wan2.1 DiT checkpoint nor ccl-bench weights"):
        R.init_from(other, tmp_path / "foo.safetensors")


def test_precomputed_text_embeddings_layout(tmp_path):
    import hashlib

    from safetensors.torch import save_file

    from reference_impl.text import PrecomputedTextEmbeddings, WordHashEncoder, text_encoder

    for caption, n in (("a red ball bounces", 5), ("", 1)):
        name = hashlib.sha256(caption.encode()).hexdigest()
        save_file({"embedding": torch.full((n, 8), float(n))}, str(tmp_path / f"{name}.safetensors"))
    enc = text_encoder(8, tmp_path)
    emb, mask = enc(["a red ball bounces", ""])
    assert emb.shape == (2, 5, 8) and mask.sum(1).tolist() == [5, 1] and emb[1, 1:].abs().sum() == 0
    save_file({"embedding": torch.full((3, 8), 7.0)}, str(tmp_path / "negative.safetensors"))
    emb, mask = enc([""])  # Wan's negative prompt stands for the empty caption
    assert mask.sum() == 3 and (emb == 7).all()
    with pytest.raises(FileNotFoundError, match="no precomputed umT5 embedding for caption 'unseen'"):
        enc(["unseen"])
    with pytest.raises(ValueError, match="16"):
        PrecomputedTextEmbeddings(tmp_path, 16)(["a red ball bounces"])
    assert isinstance(text_encoder(8), WordHashEncoder)
