"""Models that ship with the gateway: the embedded local models and the deterministic test models."""

from __future__ import annotations

from unigate.catalog.spec import ModelSpec, Price, UnitPrice
from unigate.settings import EmbeddingModelSettings, LocalModelSettings, LocalSpeechSettings

__all__ = [
    "CHAT_ENDPOINTS",
    "CHAT_FEATURES",
    "CHAT_PARAMS",
    "FAKE_MODEL_ID",
    "LOCAL_CHAT_MODEL_ID",
    "LOCAL_EMBEDDING_MODEL_ID",
    "LOCAL_SPEECH_MODEL_ID",
    "LOCAL_TRANSCRIPTION_MODEL_ID",
    "fake_spec",
    "local_chat_spec",
    "local_embedding_spec",
    "local_speech_spec",
    "local_transcription_spec",
]

LOCAL_CHAT_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
FAKE_MODEL_ID = "fake/echo"
LOCAL_EMBEDDING_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
LOCAL_SPEECH_MODEL_ID = "rhasspy/piper-en_US-joe-medium"
LOCAL_TRANSCRIPTION_MODEL_ID = "Systran/faster-whisper-tiny.en"

CHAT_ENDPOINTS = ("/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/completions")
"""Every chat model is served through each of these (they translate into one canonical request)."""

_SAMPLING = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "repetition_penalty",
        "frequency_penalty",
        "presence_penalty",
        "seed",
        "stop",
        "logit_bias",
    }
)
CHAT_PARAMS = _SAMPLING | {
    "max_completion_tokens",
    "max_tokens",
    "stream_options",
    "n",
    "logprobs",
    "top_logprobs",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
}

CHAT_FEATURES = (
    "openai/chat-completion",
    "openai/response-api",
    "openai/chat-completion.function",
    "openai/chat-completion.message.system",
    "openai/chat-completion.message.developer",
    "openai/chat-completion.message.assistant",
    "openai/chat-completion.stream",
    "openai/chat-completion.max-completion-tokens",
    "openai/chat-completion.number-of-messages",
    "openai/chat-completion.stop",
    "openai/chat-completion.seed",
    "openai/chat-completion.response-format",
)
"""The feature strings of the seeds' docs (page 'Complete Model List') that a full-featured chat
model without reasoning has."""


def local_chat_spec(settings: LocalModelSettings) -> ModelSpec:
    return ModelSpec(
        id=LOCAL_CHAT_MODEL_ID,
        provider="local",
        upstream_model=LOCAL_CHAT_MODEL_ID,
        price=Price(settings.input_price_per_mtok, settings.output_price_per_mtok),
        name="SmolLM2 135M Instruct (embedded)",
        developer="Hugging Face",
        description="A 135M-parameter instruction-tuned model that runs inside the gateway on the CPU, "
        "with no key and no network: for trying the API, tests and structured output.",
        context_length=settings.n_ctx,
        max_output=settings.n_ctx,
        url="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct",
        docs_url="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct",
        features=CHAT_FEATURES,
        params=CHAT_PARAMS,
        endpoints=CHAT_ENDPOINTS,
        aliases=("smollm2-135m-instruct", "smollm2"),
    )


def local_embedding_spec(settings: EmbeddingModelSettings) -> ModelSpec:
    return ModelSpec(
        id=LOCAL_EMBEDDING_MODEL_ID,
        provider="local-embeddings",
        upstream_model=LOCAL_EMBEDDING_MODEL_ID,
        price=Price(settings.input_price_per_mtok, 0),
        type="embedding",
        name="all-MiniLM-L6-v2 (embedded)",
        developer="sentence-transformers",
        description="A 22M-parameter sentence embedding model (384 dimensions) that runs inside the gateway "
        "on the CPU with NumPy: semantic search, clustering, similarity. Inputs past 256 tokens are truncated.",
        context_length=256,
        url="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
        docs_url="https://www.sbert.net/docs/sentence_transformer/pretrained_models.html",
        endpoints=("/v1/embeddings",),
        input_modalities=frozenset(),
        aliases=("all-minilm-l6-v2", "all-MiniLM-L6-v2"),
    )


def local_speech_spec(settings: LocalSpeechSettings) -> ModelSpec:
    return ModelSpec(
        id=LOCAL_SPEECH_MODEL_ID,
        provider="local-speech",
        upstream_model="en_US-joe-medium",
        price=Price(0, 0),
        price_source="unpriced",
        unit_price=UnitPrice("character", settings.tts_price_per_mchar, source="configured"),
        type="tts",
        name="Piper en_US joe medium (embedded)",
        developer="Rhasspy",
        description="A Piper (VITS) text-to-speech voice, US English, male, 22.05 kHz, that runs inside the "
        "gateway on the CPU with no key and no network. Every voice name speaks with it; streams sentence "
        "by sentence as mp3, opus, aac, flac, wav or pcm.",
        url="https://huggingface.co/rhasspy/piper-voices/tree/v1.0.0/en/en_US/joe/medium",
        docs_url="https://github.com/OHF-Voice/piper1-gpl/blob/main/docs/API_PYTHON.md",
        endpoints=("/v1/tts", "/v1/audio/speech"),
        input_modalities=frozenset(),
        aliases=("piper", "piper-joe", "en_US-joe-medium"),
    )


def local_transcription_spec(settings: LocalSpeechSettings) -> ModelSpec:
    return ModelSpec(
        id=LOCAL_TRANSCRIPTION_MODEL_ID,
        provider="local-speech",
        upstream_model="tiny.en",
        price=Price(0, 0),
        price_source="unpriced",
        unit_price=UnitPrice("second", settings.stt_price_per_msecond, source="configured"),
        type="stt",
        name="Whisper tiny.en (embedded)",
        developer="OpenAI",
        description="OpenAI's 39M-parameter English-only Whisper model in CTranslate2's int8, run inside the "
        "gateway on the CPU by faster-whisper with no key and no network: English transcription with segment "
        "and word timestamps (no translation).",
        url="https://huggingface.co/Systran/faster-whisper-tiny.en",
        docs_url="https://github.com/SYSTRAN/faster-whisper",
        endpoints=("/v1/stt/create", "/v1/stt", "/v1/audio/transcriptions"),
        input_modalities=frozenset(),
        aliases=("faster-whisper-tiny.en", "whisper-tiny.en"),
    )


def fake_spec() -> ModelSpec:
    """A deterministic echo model for tests: costs 1,000,000 credits per 1M tokens each way."""
    return ModelSpec(
        id=FAKE_MODEL_ID,
        provider="fake",
        upstream_model="echo-1",
        price=Price(1_000_000, 1_000_000),
        name="Fake echo model",
        developer="unigate",
        description="Deterministic test model: answers with the last user message.",
        context_length=8192,
        max_output=1024,
        url="https://example.invalid/fake",
        docs_url="https://example.invalid/fake",
        features=CHAT_FEATURES,
        params=CHAT_PARAMS - {"logprobs", "top_logprobs"},
    )
