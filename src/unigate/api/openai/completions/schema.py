"""Wire schema of ``POST /v1/completions`` (OpenAI legacy text completions) and its translation to
canonical chat requests (https://platform.openai.com/docs/api-reference/completions/create).

One canonical request per prompt (``prompt`` may be an array of strings): the prompt goes as
``raw_prompt``, which the local model continues verbatim (no chat template), and as a single user
message, which is what chat-only upstreams read: there the answer is the chat model's reply to
the prompt, not a continuation of it. Prompts given as token ids are refused (they would be ids
of a tokenizer we cannot know). ``max_tokens`` defaults to 16, as OpenAI's does.

``logprobs: k`` asks for the chosen token's log probability and the ``k`` most likely ones;
``echo`` puts the prompt in front of the text, but not together with ``logprobs`` (the prompt's
own log probabilities are not computed). ``suffix`` (insertion) is refused; ``best_of`` only as
equal to ``n``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from unigate.api.openai.sampling import check_logit_bias, to_sampling
from unigate.api.requests import MAX_COUNT
from unigate.core.chat import ChatRequest, Message, TextPart
from unigate.errors import InvalidRequest, UnsupportedParameter

__all__ = ["DEFAULT_MAX_TOKENS", "CompletionsRequest"]

DEFAULT_MAX_TOKENS = 16

_Tokens = Annotated[list[Annotated[StrictInt, Field(ge=0)]], Field(min_length=1)]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    include_usage: bool = False


class CompletionsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    prompt: (
        str
        | Annotated[list[str], Field(min_length=1, max_length=64)]
        | _Tokens
        | Annotated[list[_Tokens], Field(min_length=1, max_length=64)]
    )
    """The prompt(s) to continue: a string or an array of strings."""
    best_of: int | None = Field(default=None, ge=1, le=20)
    echo: bool = False
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    logprobs: int | None = Field(default=None, ge=0, le=5)
    """Log probabilities of the chosen token and of the ``logprobs`` most likely ones."""
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    n: int | None = Field(default=None, ge=1, le=16)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    suffix: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    user: str | None = None
    # Extensions the chat endpoint accepts too (the service docs' chat completions reference).
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0.001, le=0.999)
    repetition_penalty: float | None = Field(default=None, gt=0)

    @field_validator("logit_bias")
    @classmethod
    def _bias_keys(cls, bias: dict[str, float] | None) -> dict[str, float] | None:
        return check_logit_bias(bias)

    def prompts(self) -> list[str]:
        if isinstance(self.prompt, str):
            return [self.prompt]
        if all(isinstance(p, str) for p in self.prompt):
            return [p for p in self.prompt if isinstance(p, str)]
        raise UnsupportedParameter(
            "Prompts given as token ids are not supported; send the prompt as text.", param="prompt"
        )

    def to_canonical(self) -> list[ChatRequest]:
        """One request per prompt; raises ``InvalidRequest`` naming the ``param``."""
        self._check()
        stops = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        set_fields = self.model_fields_set
        requested: set[str] = {
            name
            for name in (
                "frequency_penalty",
                "logit_bias",
                "max_tokens",
                "n",
                "presence_penalty",
                "seed",
                "stop",
                "temperature",
                "top_p",
                "top_k",
                "min_p",
                "repetition_penalty",
            )
            if name in set_fields and getattr(self, name) is not None
        }
        if self.logprobs is not None:
            requested.add("logprobs")
            if self.logprobs:
                requested.add("top_logprobs")
        base = ChatRequest(
            model=self.model,
            messages=(),
            max_tokens=self.max_tokens or DEFAULT_MAX_TOKENS,
            n=self.n or 1,
            sampling=to_sampling(self, stops),
            logprobs=self.logprobs is not None,
            top_logprobs=self.logprobs or None,
            stream=self.stream,
            include_usage=bool(self.stream_options and self.stream_options.include_usage),
            user=self.user,
            requested=frozenset(requested),
        )
        return [
            replace(base, messages=(Message("user", (TextPart(prompt),)),), raw_prompt=prompt)
            for prompt in self.prompts()
        ]

    def _check(self) -> None:
        stops = [self.stop] if isinstance(self.stop, str) else (self.stop or [])
        if len(stops) > 4:
            raise InvalidRequest("Up to 4 stop sequences are allowed.", param="stop")
        if any(s == "" for s in stops):
            raise InvalidRequest("Stop sequences must not be empty.", param="stop")
        if self.stream_options is not None and not self.stream:
            raise InvalidRequest("stream_options is only allowed when stream is true.", param="stream_options")
        if self.suffix:
            raise UnsupportedParameter("suffix (text insertion) is not supported.", param="suffix")
        if self.best_of is not None and self.best_of != (self.n or 1):
            raise UnsupportedParameter("best_of is only supported equal to n.", param="best_of")
        if self.echo and self.logprobs is not None:
            raise UnsupportedParameter(
                "echo with logprobs is not supported: the prompt's log probabilities are not computed.",
                param="echo",
            )
