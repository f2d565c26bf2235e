"""`benchmarks/interaction_profile.py`: kernel families and the table of what a model adds to its base."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("interaction_profile",
                                              Path(__file__).parents[2] / "benchmarks" / "interaction_profile.py")
ip = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ip)


def test_kernels_fall_into_families():
    assert ip.family("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64") == "matmul"
    assert ip.family("nvjet_tst_128x256_64x4_2x1_v_bz_coopA_NTT") == "matmul"
    assert ip.family("void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, cutlass::bfloat16_t>>") == "attention"
    assert ip.family("void cudnn::fusion::compute_dot_do_o_specialized<true, 128>") == "attention"
    assert ip.family("triton_red_fused__to_copy_add_mean_mul_pow_rsqrt_3") == "fused reduction"
    assert ip.family("triton_poi_fused_add_mul_sin_7") == "fused pointwise"
    assert ip.family("void at::native::index_elementwise_kernel<128, 4>") == "copy / gather"
    assert ip.family("void at::native::multi_tensor_apply_kernel<FusedAdamMathFunctor>") == "optimizer"
    assert ip.family("aten::addmm") == "matmul" and ip.family("something else") == "other"


def test_the_table_shows_each_family_and_what_a_model_adds():
    result = {"provenance": {"device": "NVIDIA H100", "commit": "abc", "torch": "2.11", "command": "cmd"},
              "scale": "wan-1.3b", "compiled": True, "steps": 2,
              "models": {"none": {"gemm_a": [10.0, 4], "triton_poi_fused_add_1": [2.0, 8]},
                         "ccl": {"gemm_a": [11.0, 5], "triton_poi_fused_add_1": [2.5, 9], "flash_fwd": [1.0, 2]}}}
    text = ip.render(result, "none")
    assert "| matmul | 10.00 | 11.00 | +1.00 |" in text and "| attention | 0.00 | 1.00 | +1.00 |" in text
    assert "| total | 12.00 | 14.50 | +2.50 |" in text
    assert text.index("`gemm_a`") < text.index("`triton_poi_fused_add_1`")  # sorted by what ccl adds
