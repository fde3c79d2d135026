#!/usr/bin/env python3
"""Build the ONNX graph of steward-ml's embedder from the pinned BERT checkpoint.

    build-onnx-embedder.py [--int8] MODEL_DIR OUT.onnx
    # e.g. ~/venv/bin/python scripts/build-onnx-embedder.py models/all-minilm-l6-v2 \
    #          crates/steward-ml/assets/all-minilm-l6-v2.onnx

Reads MODEL_DIR/config.json and the header of MODEL_DIR/model.safetensors and writes a small
ONNX file (operators only) computing what sentence-transformers computes for all-MiniLM-L6-v2:
the BERT encoder (token type 0), mean pooling over the attention mask, L2 normalisation.

    inputs:  input_ids int64 (batch, seq), attention_mask int64 (batch, seq)
    output:  embeddings float32 (batch, hidden), unit length

Every weight is ONNX external data: a byte range of model.safetensors (raw little-endian F32,
the layout ONNX expects), resolved by ONNX Runtime against the model directory. So the graph is
tied to the pinned safetensors file (steward-ml checks its sha256 before loading) and the weights
exist once on disk. Linear weights are transposed, and Q/K/V concatenated, by Transpose/Concat
nodes that ONNX Runtime folds when the session loads.

It uses ONNX Runtime's fused CPU kernels (com.microsoft Attention, SkipLayerNormalization,
BiasGelu), the ones ONNX Runtime's own BERT optimizer emits. Needs only the PyPI packages
`onnx` (1.23.2 was used) and `numpy`; no torch. The output is deterministic. Run by hand when
the model changes; `make test` never runs it (the graph is checked in).

--int8 writes the dynamically quantized variant (assets/all-minilm-l6-v2-int8.onnx): the same
graph with every Linear as com.microsoft DynamicQuantizeMatMul and every Attention as QAttention,
int8 weights with one scale per output column (symmetric, zero point 0), activations quantized
per batch: what ONNX Runtime's quantize_dynamic(per_channel=True, op_types MatMul and Attention)
makes of the F32 graph. Its int8 weights and scales are not in any file: steward-ml computes them
from the pinned model.safetensors when it loads the graph (src/quant.rs) and passes them to
ONNX Runtime by name.
"""

import json
import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

# Where the int8 graph's computed initializers claim to live. steward-ml supplies each of them
# by name before the session loads (crates/steward-ml/src/quant.rs), so no such file exists.
INT8_LOCATION = "steward-int8-computed-at-load"


def safetensors_index(path):
    """name -> (dtype, shape, byte offset in the file, byte length), from the safetensors header."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        out[name] = (meta["dtype"], meta["shape"], base + start, end - start)
    return out


def build(model_dir, weights_file="model.safetensors", int8=False):
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    index = safetensors_index(Path(model_dir) / weights_file)
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    eps = float(cfg["layer_norm_eps"])
    assert cfg.get("hidden_act") == "gelu", "only exact (erf) GELU is supported"
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in index else ""

    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def p(name):
        """A weight of the checkpoint, as an initializer whose bytes stay in the safetensors file."""
        key = prefix + name
        dtype, shape, offset, length = index[key]
        assert dtype == "F32", f"{key}: {dtype}, expected F32"
        if key not in {t.name for t in inits}:
            t = TensorProto(name=key, dims=shape, data_type=TensorProto.FLOAT)
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", weights_file), ("offset", str(offset)), ("length", str(length))):
                e = t.external_data.add()
                e.key, e.value = k, v
            inits.append(t)
        return key

    def node(op, ins, outs, domain="", **attrs):
        nodes.append(helper.make_node(op, ins, outs, name=outs[0], domain=domain or None, **attrs))
        return outs[0]

    def t(name):
        """The transpose of a torch Linear weight (out, in) -> (in, out); folded at session load."""
        return node("Transpose", [p(name)], [name + ".T"], perm=[1, 0])

    def computed(name, dims, data_type):
        """An initializer steward-ml computes from the checkpoint when it loads the graph (the int8
        weights and their scales) and hands to ONNX Runtime as an external initializer, so the
        file named here is never read."""
        t = TensorProto(name=name, dims=dims, data_type=data_type)
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", INT8_LOCATION), ("offset", "0"), ("length", "0")):
            e = t.external_data.add()
            e.key, e.value = k, v
        inits.append(t)
        return name

    def q(name, dims):
        """int8 weight (in, out) of `name` and its per-column scale: inputs B and b_scale."""
        return (computed(name + ".q", dims, TensorProto.INT8), computed(name + ".scale", [dims[1]], TensorProto.FLOAT))

    def linear(x, name, out, dims):
        """x @ W^T: F32, or int8 weights with the activations quantized per batch (what ONNX
        Runtime's quantize_dynamic emits for a MatMul, per channel, fused)."""
        if not int8:
            return node("MatMul", [x, t(name)], [out])
        w, s = q(name, dims)
        return node("DynamicQuantizeMatMul", [x, w, s], [out], domain="com.microsoft")

    # Embeddings: word + position + token type 0, then LayerNorm.
    shape = node("Shape", ["input_ids"], ["ids_shape"])
    one = const("c_1", np.array([1], np.int64))
    seq = node("Slice", [shape, one, const("c_2", np.array([2], np.int64))], ["seq_len"])
    zero = const("c_0", np.array([0], np.int64))
    pos_s = node("Slice", [p("embeddings.position_embeddings.weight"), zero, seq], ["pos_slice"])
    typ = node("Gather", [p("embeddings.token_type_embeddings.weight"), const("c_type", np.array(0, np.int64))], ["token_type_0"], axis=0)
    x = node("Gather", [p("embeddings.word_embeddings.weight"), "input_ids"], ["word_emb"], axis=0)
    x = node("Add", [x, pos_s], ["emb_wp"])
    x = node("Add", [x, typ], ["emb_wpt"])
    x = node(
        "LayerNormalization",
        [x, p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias")],
        ["emb_ln"],
        axis=-1,
        epsilon=eps,
    )
    mask32 = node("Cast", ["attention_mask"], ["mask_i32"], to=TensorProto.INT32)

    for i in range(cfg["num_hidden_layers"]):
        lp = f"encoder.layer.{i}."
        qkv = [lp + f"attention.self.{k}" for k in ("query", "key", "value")]
        if not int8:
            qkv_w = node("Concat", [t(n + ".weight") for n in qkv], [f"l{i}_qkv_w"], axis=1)
        qkv_b = node("Concat", [p(n + ".bias") for n in qkv], [f"l{i}_qkv_b"], axis=0)
        if int8:
            # QAttention: the Q/K/V weights concatenated (in, 3 x hidden), int8 per column; the
            # input quantized per batch to uint8.
            w, s = q(f"l{i}_qkv", [hidden, 3 * hidden])
            xq = node("DynamicQuantizeLinear", [x], [f"l{i}_in_q", f"l{i}_in_scale", f"l{i}_in_zp"])
            a = node(
                "QAttention",
                [xq, w, qkv_b, f"l{i}_in_scale", s, mask32, f"l{i}_in_zp"],
                [f"l{i}_attn"],
                domain="com.microsoft",
                num_heads=heads,
            )
        else:
            a = node("Attention", [x, qkv_w, qkv_b, mask32], [f"l{i}_attn"], domain="com.microsoft", num_heads=heads)
        a = linear(a, lp + "attention.output.dense.weight", f"l{i}_ao", [hidden, hidden])
        x = node(
            "SkipLayerNormalization",
            [
                a,
                x,
                p(lp + "attention.output.LayerNorm.weight"),
                p(lp + "attention.output.LayerNorm.bias"),
                p(lp + "attention.output.dense.bias"),
            ],
            [f"l{i}_ln1"],
            domain="com.microsoft",
            epsilon=eps,
        )
        inter = cfg["intermediate_size"]
        h = linear(x, lp + "intermediate.dense.weight", f"l{i}_fi", [hidden, inter])
        h = node("BiasGelu", [h, p(lp + "intermediate.dense.bias")], [f"l{i}_gelu"], domain="com.microsoft")
        h = linear(h, lp + "output.dense.weight", f"l{i}_fo", [inter, hidden])
        x = node(
            "SkipLayerNormalization",
            [h, x, p(lp + "output.LayerNorm.weight"), p(lp + "output.LayerNorm.bias"), p(lp + "output.dense.bias")],
            [f"l{i}_ln2"],
            domain="com.microsoft",
            epsilon=eps,
        )

    # Mean pooling over real tokens, then unit length (sentence-transformers' clamps).
    m = node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT)
    m = node("Unsqueeze", [m, const("c_axis2", np.array([2], np.int64))], ["mask_f3"])
    s = node("Mul", [x, m], ["masked"])
    s = node("ReduceSum", [s, one], ["summed"], keepdims=0)
    c = node("ReduceSum", [m, one], ["counts"], keepdims=0)
    c = node("Max", [c, const("c_eps9", np.array(1e-9, np.float32))], ["counts_c"])
    mean = node("Div", [s, c], ["mean"])
    n = node("ReduceL2", [mean], ["norm"], axes=[-1], keepdims=1)
    n = node("Max", [n, const("c_eps12", np.array(1e-12, np.float32))], ["norm_c"])
    node("Div", [mean, n], ["embeddings"])

    graph = helper.make_graph(
        nodes,
        "sentence_embedder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", hidden])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        producer_name="steward scripts/build-onnx-embedder.py",
        producer_version="1",
    )
    model.ir_version = 8

    return model


def main():
    args = sys.argv[1:]
    int8 = "--int8" in args
    args = [a for a in args if a != "--int8"]
    if len(args) != 2:
        raise SystemExit(__doc__)
    model = build(args[0], int8=int8)
    out = Path(args[1])
    out.write_bytes(model.SerializeToString(deterministic=True))


if __name__ == "__main__":
    main()
