"""The canonical embeddings request and result, independent of the API they arrived through.

Inputs are texts or token id sequences. Token ids are the target model's own vocabulary: they go
to the upstream as sent (OpenAI's models read ``cl100k_base`` ids), and the embedded MiniLM reads
them as its WordPiece ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from unigate.core.results import Usage
from unigate.primitives.records import record

__all__ = ["EmbeddingInput", "EmbeddingRequest", "EmbeddingResult"]

EmbeddingInput = str | tuple[int, ...]


@record
class EmbeddingRequest:
    model: str
    inputs: tuple[EmbeddingInput, ...]
    dimensions: int | None = None
    """Length of the returned vectors, for models that can shorten them; ``None``: the model's own."""
    user: str | None = None


@dataclass(slots=True)
class EmbeddingResult:
    model: str
    """The model name as the upstream reports it."""
    vectors: npt.NDArray[np.float32]
    """One row per input, in input order."""
    usage: Usage
    """``prompt_tokens`` as reported (``completion_tokens`` is always 0)."""
