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
