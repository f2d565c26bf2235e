"""The Wan2.1 T2V parameter layout, written independently from the brief's table (names and shapes),
so tests compare the model against it rather than against itself."""

import math


def wan_t2v_layout(dim, ffn_dim, layers, in_dim=16, out_dim=16, text_dim=4096, freq_dim=256, patch=(1, 2, 2)):
    shapes = {
        "patch_embedding.weight": (dim, in_dim, *patch),
        "patch_embedding.bias": (dim,),
        "text_embedding.0.weight": (dim, text_dim),
        "text_embedding.0.bias": (dim,),
        "text_embedding.2.weight": (dim, dim),
        "text_embedding.2.bias": (dim,),
        "time_embedding.0.weight": (dim, freq_dim),
        "time_embedding.0.bias": (dim,),
        "time_embedding.2.weight": (dim, dim),
        "time_embedding.2.bias": (dim,),
        "time_projection.1.weight": (6 * dim, dim),
        "time_projection.1.bias": (6 * dim,),
        "head.head.weight": (math.prod(patch) * out_dim, dim),
        "head.head.bias": (math.prod(patch) * out_dim,),
        "head.modulation": (1, 2, dim),
    }
    for i in range(layers):
        b = f"blocks.{i}."
        for attn in ("self_attn", "cross_attn"):
            for lin in "qkvo":
                shapes[f"{b}{attn}.{lin}.weight"] = (dim, dim)
                shapes[f"{b}{attn}.{lin}.bias"] = (dim,)
            shapes[f"{b}{attn}.norm_q.weight"] = (dim,)
            shapes[f"{b}{attn}.norm_k.weight"] = (dim,)
        shapes[f"{b}norm3.weight"] = (dim,)
        shapes[f"{b}norm3.bias"] = (dim,)
        shapes[f"{b}ffn.0.weight"] = (ffn_dim, dim)
        shapes[f"{b}ffn.0.bias"] = (ffn_dim,)
        shapes[f"{b}ffn.2.weight"] = (dim, ffn_dim)
        shapes[f"{b}ffn.2.bias"] = (dim,)
        shapes[f"{b}modulation"] = (1, 6, dim)
    return shapes
