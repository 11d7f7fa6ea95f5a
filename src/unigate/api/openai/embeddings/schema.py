"""Wire schema of ``POST /v1/embeddings`` (OpenAI) and its translation to the canonical request.

https://platform.openai.com/docs/api-reference/embeddings/create. ``input`` is a string, an array
of strings, an array of token ids, or an array of token id arrays: at most 2048 inputs, none
empty. ``dimensions`` shortens the vectors (models that support it); ``encoding_format`` only
changes how the floats are written, so it stays at the edge.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from unigate.core.embeddings import EmbeddingInput, EmbeddingRequest

__all__ = ["EmbeddingsRequest"]

MAX_INPUTS = 2048

_Text = Annotated[str, Field(min_length=1)]
_Tokens = Annotated[list[Annotated[StrictInt, Field(ge=0)]], Field(min_length=1)]


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: (
        _Text
        | Annotated[list[_Text], Field(min_length=1, max_length=MAX_INPUTS)]
        | _Tokens
        | Annotated[list[_Tokens], Field(min_length=1, max_length=MAX_INPUTS)]
    )
    """Text to embed: a string, strings, token ids, or arrays of token ids (the model's vocabulary)."""
    model: str = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    """``base64``: each vector as the base64 of its little-endian float32 bytes."""
    dimensions: int | None = Field(default=None, ge=1)
    """The number of dimensions of the output vectors (models that can shorten them)."""
    user: str | None = None

    def to_canonical(self) -> EmbeddingRequest:
        raw = self.input
        inputs: tuple[EmbeddingInput, ...]
        if isinstance(raw, str):
            inputs = (raw,)
        elif all(isinstance(i, int) for i in raw):
            inputs = (tuple(i for i in raw if isinstance(i, int)),)
        else:
            inputs = tuple(i if isinstance(i, str) else tuple(i) for i in raw if isinstance(i, str | list))
        return EmbeddingRequest(model=self.model, inputs=inputs, dimensions=self.dimensions, user=self.user)
