"""What each route does, for the document: one ``Operation`` per method and path.

Keyed by the ``/v1`` (or ``/v2``) path; a route served without the prefix (``/chat/completions``,
as the chat endpoints are) is the same operation. ``document.py`` refuses a route missing here.
"""

from __future__ import annotations

from dataclasses import field

from unigate.primitives.records import record

__all__ = ["OPERATIONS", "Operation", "Param"]

JSON = "application/json"
SSE = "text/event-stream"
MULTIPART = "multipart/form-data"


@record
class Param:
    name: str
    description: str
    repeated: bool = False


@record
class Operation:
    summary: str
    tag: str
    answer: str = "Object"
    """The success answer's schema (``schemas.py``); ``""`` when it is not JSON."""
    status: int = 200
    body: str = ""
    """The request body's schema, ``""`` for none."""
    body_types: tuple[str, ...] = (JSON,)
    answer_types: tuple[str, ...] = (JSON,)
    streams: bool = False
    """Also answers ``text/event-stream`` (``stream: true``)."""
    query: tuple[Param, ...] = field(default_factory=tuple)
    auth: bool = True
    description: str = ""


_WINDOW = (
    Param("period", "A window ending now: a positive integer and h or d (24h, 7d)."),
    Param("start", "ISO 8601 start (with end, instead of period)."),
    Param("end", "ISO 8601 end (with start)."),
    Param("key_prefix", "Another key's prefix (management key only)."),
)
_JOB_ID = (Param("generation_id", "The job's id (also accepted as id)."), Param("id", "The job's id."))
_LIST = (Param("limit", "1 to 100 (20)."), Param("order", "asc or desc."), Param("after", "An id to start after."))
_MEDIA = (MULTIPART, JSON)

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/v1/chat/completions"): Operation(
        "Create a chat completion", "chat", "ChatCompletion", body="ChatCompletionRequest", streams=True
    ),
    ("POST", "/v1/completions"): Operation(
        "Create a text completion", "chat", "TextCompletion", body="CompletionsRequest", streams=True
    ),
    ("POST", "/v1/responses"): Operation(
        "Create a response (OpenAI Responses API)", "chat", "Response", body="ResponsesRequest", streams=True
    ),
    ("GET", "/v1/responses/{id}"): Operation(
        "Retrieve a stored response",
        "chat",
        "Response",
        streams=True,
        query=(Param("stream", "true replays the response's events."),),
    ),
    ("DELETE", "/v1/responses/{id}"): Operation("Delete a stored response", "chat"),
    ("POST", "/v1/responses/{id}/cancel"): Operation("Cancel a background response", "chat", "Response"),
    ("GET", "/v1/responses/{id}/input_items"): Operation("List a response's input items", "chat", "List", query=_LIST),
    ("POST", "/v1/messages"): Operation(
        "Create a message (Anthropic Messages API)", "chat", "Message", body="MessagesRequest", streams=True
    ),
    ("POST", "/v1/messages/count_tokens"): Operation(
        "Count a message's input tokens (Anthropic Messages API)",
        "chat",
        "MessageTokensCount",
        body="MessagesRequest",
        description=(
            "A Messages request without max_tokens. Exact for Claude models (Anthropic's count) and the embedded "
            "model (its tokenizer); for other models the gateway's estimate, an upper bound. Free: nothing is "
            "charged; one request against the key's requests-per-minute limit."
        ),
    ),
    ("POST", "/v1/embeddings"): Operation("Create embeddings", "embeddings", "EmbeddingList", body="EmbeddingsRequest"),
    ("GET", "/v1/models"): Operation(
        "List the models (OpenAI's shape)",
        "models",
        "List",
        query=(Param("include", "Filters and details, comma separated.", True), Param("details", "true or 1.")),
        auth=False,
    ),
    ("GET", "/v1/models/{id}"): Operation("Retrieve a model", "models", auth=False),
    ("GET", "/models"): Operation(
        "List the models with prices and capabilities",
        "models",
        "ModelCatalog",
        query=(
            Param("type", "Modalities, comma separated.", True),
            Param("capability", "Capabilities, comma separated.", True),
        ),
        auth=False,
    ),
    ("GET", "/models/metrics"): Operation(
        "The models' measured latencies",
        "models",
        query=(Param("aliases", "Model ids or aliases.", True),),
        auth=False,
    ),
    ("POST", "/v1/images/generations"): Operation(
        "Generate images (a 3D model named here runs as a job)", "media", body="MediaRequest", body_types=(JSON,)
    ),
    ("POST", "/v1/images/edits"): Operation("Edit images", "media", body="MultipartMediaRequest", body_types=_MEDIA),
    ("POST", "/v1/audio/speech"): Operation(
        "Speech from text (OpenAI's shape): the audio itself",
        "media",
        "",
        body="MediaRequest",
        answer_types=("audio/*",),
    ),
    ("POST", "/v1/tts"): Operation(
        "Speech from text: the audio, or a stored file's link",
        "media",
        body="MediaRequest",
        answer_types=(JSON, "audio/*"),
    ),
    ("POST", "/v1/audio/transcriptions"): Operation(
        "Transcribe audio",
        "media",
        body="MultipartMediaRequest",
        body_types=_MEDIA,
        answer_types=(JSON, "text/plain", "text/vtt"),
    ),
    ("POST", "/v1/audio/translations"): Operation(
        "Translate audio to English text",
        "media",
        body="MultipartMediaRequest",
        body_types=_MEDIA,
        answer_types=(JSON, "text/plain", "text/vtt"),
    ),
    ("POST", "/v1/stt/create"): Operation(
        "Start a transcription; its result is read with GET /v1/stt/{generation_id}",
        "media",
        body="MultipartMediaRequest",
        body_types=_MEDIA,
    ),
    ("GET", "/v1/stt/{generation_id}"): Operation("A transcription's result", "media"),
    ("POST", "/v1/stt"): Operation(
        "Transcribe audio (the service's earlier endpoint)",
        "media",
        status=201,
        body="MultipartMediaRequest",
        body_types=_MEDIA,
    ),
    ("POST", "/v1/ocr"): Operation("Read the text of a document or image", "media", body="MediaRequest"),
    ("GET", "/v1/media/{id}"): Operation(
        "A generated file (also HEAD; one Range honoured)",
        "media",
        "",
        answer_types=("*/*",),
        query=(Param("expires", "A signed link's expiry."), Param("signature", "A signed link's signature.")),
        description="A signed link needs no key; without one, the key of the account whose request made the file.",
    ),
    ("POST", "/v2/video/generations"): Operation("Start a video job", "jobs", body="MediaRequest"),
    ("GET", "/v2/video/generations"): Operation("A video job's state", "jobs", query=_JOB_ID),
    ("POST", "/v2/generate/video/{vendor}/generation"): Operation(
        "Start a video job (a vendor's path)", "jobs", body="MediaRequest"
    ),
    ("GET", "/v2/generate/video/{vendor}/generation"): Operation(
        "A video job's state (a vendor's path)", "jobs", query=_JOB_ID
    ),
    ("POST", "/v2/generate/audio"): Operation("Start a music job", "jobs", body="MediaRequest"),
    ("GET", "/v2/generate/audio"): Operation("A music job's state", "jobs", query=_JOB_ID),
    ("POST", "/v2/generate/audio/minimax/upload"): Operation(
        "Upload a reference song (MiniMax's earlier music API)",
        "jobs",
        body="MultipartMediaRequest",
        body_types=(MULTIPART,),
    ),
    ("POST", "/v2/generate/audio/minimax/generate"): Operation(
        "Generate music (MiniMax's earlier music API)", "jobs", body="MediaRequest"
    ),
    ("POST", "/v2/generate/3d"): Operation("Generate a 3D model", "jobs", body="MediaRequest"),
    ("POST", "/v1/videos"): Operation(
        "Create a video (OpenAI's Videos API)", "jobs", body="MultipartMediaRequest", body_types=_MEDIA
    ),
    ("GET", "/v1/videos"): Operation("List videos", "jobs", "List", query=_LIST),
    ("GET", "/v1/videos/{id}"): Operation("Retrieve a video", "jobs"),
    ("DELETE", "/v1/videos/{id}"): Operation("Delete a video", "jobs"),
    ("GET", "/v1/videos/{id}/content"): Operation(
        "A video's content",
        "jobs",
        "",
        answer_types=("*/*",),
        query=(Param("variant", "video, thumbnail or spritesheet."),),
    ),
    ("POST", "/v1/keys"): Operation("Create a key (management key)", "admin", body="CreateKeyRequest"),
    ("GET", "/v1/keys"): Operation(
        "List the keys (management key)", "admin", query=(Param("account_id", "Only this account's keys."),)
    ),
    ("PATCH", "/v1/keys/{prefix}"): Operation("Update a key (management key)", "admin", body="UpdateKeyRequest"),
    ("DELETE", "/v1/keys/{prefix}"): Operation("Delete a key (management key)", "admin"),
    ("GET", "/v1/key"): Operation("The calling key", "admin"),
    ("GET", "/v1/accounts/{account_id}"): Operation("An account (management key)", "admin"),
    ("POST", "/v1/accounts/{account_id}/credits"): Operation(
        "Add credits to an account (management key)", "admin", body="AddCredits"
    ),
    ("POST", "/v1/cache/invalidate"): Operation(
        "Remove cached chat answers (management key)",
        "admin",
        body="Object",
        description="The body names what to remove: `account_id`, `key_prefix` (an API key's account), "
        "`model` and/or `key` (one entry, as `x-unigate-cache-key` named it); answers `{deleted}`.",
    ),
    ("GET", "/v1/billing/balance"): Operation("The account's balance (earlier shape)", "billing"),
    ("GET", "/v2/billing"): Operation("The account's balance", "billing"),
    ("GET", "/v2/billing/detail"): Operation("The account's balance and spend", "billing"),
    ("GET", "/v2/billing/transactions"): Operation(
        "The account's ledger",
        "billing",
        query=(Param("limit", "Rows per page."), Param("cursor", "The page after this one's next cursor.")),
    ),
    ("GET", "/v2/usage"): Operation("A key's usage in a window", "billing", query=_WINDOW),
    ("GET", "/v2/usage/detail"): Operation("A key's usage per model and day", "billing", query=_WINDOW),
    ("GET", "/v2/logs"): Operation(
        "A key's request logs",
        "billing",
        query=(*_WINDOW, Param("model", "Only this model.", True), Param("status", "succeeded or failed.", True)),
    ),
    ("GET", "/v1/usage"): Operation("The account's usage rows", "billing"),
    ("GET", "/health"): Operation("Liveness", "service", auth=False),
    ("GET", "/metrics"): Operation("Prometheus metrics", "service", "", answer_types=("text/plain",), auth=False),
    ("GET", "/openapi.json"): Operation("This document", "service", auth=False),
    ("GET", "/docs"): Operation("The API reference page", "service", "", answer_types=("text/html",), auth=False),
}
