"""The NumPy all-MiniLM-L6-v2 against references computed other ways: the similarity matrix that
sentence-transformers publishes for this model, and a separate float64 implementation written
the plain way (one head at a time, ``math.erf``), on the same weights."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from safetensors.numpy import load_file

from unigate.providers.embeddings.minilm import MAX_TOKENS, MiniLM, _gelu, default_model_dir

F64 = npt.NDArray[np.float64]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return default_model_dir()


@pytest.fixture(scope="module")
def model(model_dir: Path) -> MiniLM:
    return MiniLM(model_dir)


def test_matches_the_published_similarity_matrix(model: MiniLM) -> None:
    # sentence-transformers' quickstart (README and docs) prints, for all-MiniLM-L6-v2:
    # tensor([[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]])
    texts = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    vectors, tokens = model.encode(texts)
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    expected = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
    np.testing.assert_allclose(vectors @ vectors.T, expected, atol=6e-4)
    assert tokens == sum(len(ids) for ids in model.tokenize(texts)) == 25


def test_paraphrases_are_closer_than_unrelated_sentences(model: MiniLM) -> None:
    vectors, _ = model.encode(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "How do I reset my password?",
            "I forgot my login credentials and need to change them.",
            "The girl is carrying a baby.",
        ]
    )
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.7
    assert sims[2, 3] > 0.4
    for paraphrase in (sims[0, 1], sims[2, 3]):
        for unrelated in (sims[0, 2], sims[0, 4], sims[1, 3], sims[2, 4], sims[3, 4]):
            assert paraphrase > unrelated + 0.3


def test_vectors_are_unit_length_and_independent_of_batching(model: MiniLM) -> None:
    texts = ["short", "a somewhat longer sentence that needs padding next to the short one", "mid length text"]
    together = model.encode(texts, batch_size=3)[0]
    alone = np.vstack([model.encode([t])[0] for t in texts])
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(together, alone, atol=2e-6)


def test_long_inputs_are_truncated_at_256_tokens(model: MiniLM) -> None:
    (ids,) = model.tokenize(["word " * 1000])
    assert len(ids) == MAX_TOKENS
    assert (ids[0], ids[-1]) == (101, 102)


def test_gelu_is_the_exact_erf_form() -> None:
    x = np.linspace(-10, 10, 20001, dtype=np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    assert np.abs(_gelu(x.copy()) - exact).max() < 1e-6


def _reference(weights: dict[str, F64], ids: Sequence[int]) -> F64:
    """BERT + mean pooling + normalisation in float64, written the textbook way."""

    def w(name: str) -> F64:
        return weights[name].astype(np.float64)

    def layer_norm(x: F64, prefix: str) -> F64:
        mu = x.mean(-1, keepdims=True)
        sigma2 = ((x - mu) ** 2).mean(-1, keepdims=True)
        out: F64 = (x - mu) / np.sqrt(sigma2 + 1e-12) * w(prefix + ".weight") + w(prefix + ".bias")
        return out

    n = len(ids)
    x = w("embeddings.word_embeddings.weight")[list(ids)] + w("embeddings.position_embeddings.weight")[:n]
    x = layer_norm(x + w("embeddings.token_type_embeddings.weight")[0], "embeddings.LayerNorm")
    erf = np.vectorize(math.erf)
    for i in range(6):
        p = f"encoder.layer.{i}."

        def linear(v: F64, name: str, p: str = p) -> F64:
            out: F64 = v @ w(p + name + ".weight").T + w(p + name + ".bias")
            return out

        q, k, v = (linear(x, f"attention.self.{m}") for m in ("query", "key", "value"))
        heads = []
        for h in range(12):
            s = slice(h * 32, (h + 1) * 32)
            scores = q[:, s] @ k[:, s].T / math.sqrt(32)
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            heads.append(probs @ v[:, s])
        x = layer_norm(
            x + linear(np.concatenate(heads, axis=1), "attention.output.dense"), p + "attention.output.LayerNorm"
        )
        hidden = linear(x, "intermediate.dense")
        hidden = 0.5 * hidden * (1 + erf(hidden / math.sqrt(2)))
        x = layer_norm(x + linear(hidden, "output.dense"), p + "output.LayerNorm")
    pooled = x.mean(0)
    unit: F64 = pooled / np.linalg.norm(pooled)
    return unit


def test_matches_an_independent_float64_implementation(model: MiniLM, model_dir: Path) -> None:
    weights = load_file(str(model_dir / "model.safetensors"))
    text = "Embeddings map sentences to vectors."
    (ids,) = model.tokenize([text])
    expected = _reference(weights, ids)
    got = model.encode([text])[0][0].astype(np.float64)
    assert np.abs(got - expected).max() < 2e-5
    assert float(got @ expected) > 0.999999
