"""What happens to a client's field that the canonical request has no place for: the field policy
per inbound API (``docs/field-policy.md`` shows the same table).

Clients send the fields of the newest API versions (coding agents first: Claude Code's
``context_management`` and ``anthropic-beta`` betas, Codex's ``client_metadata``), and a strict
gateway that refuses them breaks them. A provider that speaks the client's dialect
(``core/provider.py``'s ``DialectSpeaker``) gets such a field as sent (forward); for any other provider it is
translated where a translation exists (the inbound schema did it), dropped where dropping cannot
change the answer, and refused with a 400 naming it where dropping would silently change it. A
field this table does not know is forwarded to a same-dialect provider (new API versions keep
coming) and refused for any other, since nothing says dropping it is harmless.

A few fields are dropped even for a same-dialect upstream, where forwarding would spend or keep
more than the gateway meters or may keep: service tiers and fast modes (billed above the list
price the gateway charges), hosted tools billed per use (web search, code execution, file search,
image generation), and ``store`` on the operator's upstream account.

``check`` runs in the gateway before anything is reserved; providers call ``forwarded`` and
``sendable`` for what to send.
"""

from __future__ import annotations

from typing import Any, Literal

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest, Dialect, Extensions
from unigate.core.provider import DialectSpeaker, Provider
from unigate.errors import UnsupportedParameter
from unigate.primitives.records import record

__all__ = [
    "DIALECT_NAMES",
    "POLICY",
    "FieldRule",
    "Rule",
    "as_written",
    "check",
    "forwarded",
    "rule_for",
    "sendable",
    "wants_own_api",
]

Rule = Literal["forward", "translate", "drop", "refuse"]


@record
class FieldRule:
    same: Rule
    """To a provider that speaks the client's dialect."""
    other: Rule
    """To any other provider."""
    why: str


DIALECT_NAMES: dict[Dialect, str] = {
    "anthropic": "Anthropic's Messages API",
    "openai_chat": "OpenAI's Chat Completions API",
    "openai_responses": "OpenAI's Responses API",
}

UNKNOWN = FieldRule("forward", "refuse", "Not known here: a newer API version's; nothing says dropping it is harmless.")

_PER_USE = "A hosted tool the upstream bills per use, which the gateway does not meter; the model answers without it."
_CLIENT_TOOL = "A tool type of this API, which other models do not have."

_ANTHROPIC_CLIENT_TOOLS = "tools[] the API's own tools (bash_*, text_editor_*, computer_*, memory_*, web_fetch_*, ...)"
_ANTHROPIC_SERVER_TOOLS = "tools[] server tools billed per use (web_search_*, code_execution_*)"

POLICY: dict[Dialect, dict[str, FieldRule]] = {
    "anthropic": {
        "thinking": FieldRule(
            "forward", "translate", "Becomes reasoning_effort (its share of max_tokens); dropped without reasoning."
        ),
        "output_config": FieldRule("forward", "translate", "effort and format become reasoning_effort and a schema."),
        "metadata": FieldRule("forward", "translate", "metadata.user_id becomes the end-user id (user)."),
        "context_management": FieldRule(
            "forward", "drop", "Clears old thinking or tool results upstream; without it the model sees all of them."
        ),
        "cache_control": FieldRule("forward", "drop", "A prompt-caching hint: the answer is the same."),
        "tools[].defer_loading": FieldRule(
            "forward", "drop", "Tool search loads the tool on demand; without it the tool is given at once."
        ),
        "container": FieldRule(
            "refuse", "refuse", "Containers live in the operator's Anthropic account, which every account here shares."
        ),
        "mcp_servers": FieldRule("forward", "refuse", "Remote tools Anthropic calls; other models would lack them."),
        "inference_geo": FieldRule(
            "refuse", "refuse", "Where inference runs is the operator's choice of deployment, not a request's."
        ),
        "service_tier": FieldRule("drop", "drop", "The gateway charges the standard tier, so it asks for it."),
        "speed": FieldRule("drop", "drop", "Fast mode is billed above the list price the gateway charges."),
        _ANTHROPIC_CLIENT_TOOLS: FieldRule("forward", "refuse", _CLIENT_TOOL),
        _ANTHROPIC_SERVER_TOOLS: FieldRule("drop", "drop", _PER_USE),
        "anthropic-beta header": FieldRule(
            "forward", "drop", "Turns on betas of this API; their fields follow their own rows."
        ),
    },
    "openai_responses": {
        "reasoning": FieldRule("forward", "translate", "effort becomes reasoning_effort; summary is OpenAI's."),
        "safety_identifier": FieldRule("forward", "translate", "Becomes the end-user id (user)."),
        "include": FieldRule(
            "forward", "drop", "Asks for extra output; encrypted reasoning comes back wherever the upstream seals it."
        ),
        "client_metadata": FieldRule("forward", "drop", "The client's own labels: the answer is the same."),
        "prompt_cache_key": FieldRule("forward", "drop", "A prompt-caching hint: the answer is the same."),
        "truncation": FieldRule("forward", "drop", "Without it a conversation too long is refused, not cut."),
        "text.verbosity": FieldRule("forward", "drop", "A length hint."),
        "input[] reasoning items": FieldRule(
            "forward", "drop", "Encrypted reasoning only OpenAI reads; other models reason afresh."
        ),
        "store": FieldRule(
            "translate", "translate", "The gateway keeps the response; the upstream never does (store: false)."
        ),
        "metadata": FieldRule("drop", "drop", "Kept on the gateway's stored response, where it is shown."),
        "service_tier": FieldRule("drop", "drop", "The gateway charges the standard tier, so it asks for it."),
        "conversation": FieldRule("refuse", "refuse", "This server keeps no conversation objects."),
        "prompt": FieldRule("refuse", "refuse", "This server keeps no prompt objects."),
        "tools[] namespace": FieldRule(
            "forward", "translate", "Its function tools are given to the model as they are."
        ),
        "tools[] custom, local_shell, mcp": FieldRule("forward", "refuse", _CLIENT_TOOL),
        "tools[] hosted (web_search*, file_search, code_interpreter, image_generation)": FieldRule(
            "drop", "drop", _PER_USE
        ),
        "input[] items of other types": FieldRule(
            "forward", "refuse", "Calls of tools other models do not have (custom, local_shell, ...)."
        ),
    },
    "openai_chat": {
        "thinking": FieldRule(
            "translate", "translate", "Becomes reasoning_effort, as on the Messages API; dropped without reasoning."
        ),
        "user": FieldRule("forward", "translate", "The end-user id."),
        "prompt_cache_key": FieldRule("forward", "drop", "A prompt-caching hint: the answer is the same."),
        "safety_identifier": FieldRule("forward", "drop", "An abuse-monitoring id: the answer is the same."),
        "prediction": FieldRule("forward", "drop", "A latency hint: the answer is the same."),
        "verbosity": FieldRule("forward", "drop", "A length hint."),
        "modalities": FieldRule("forward", "refuse", "Audio output, which other models do not give."),
        "audio": FieldRule("forward", "refuse", "Audio output, which other models do not give."),
        "store": FieldRule("drop", "drop", "Nothing a client sends is kept on the operator's upstream account."),
        "metadata": FieldRule("drop", "drop", "Only shown on stored completions, which the gateway never asks for."),
        "service_tier": FieldRule("drop", "drop", "The gateway charges the standard tier, so it asks for it."),
    },
}

_TOOL_RULES: dict[Dialect, tuple[tuple[tuple[str, ...], str], ...]] = {
    "anthropic": ((("web_search_", "code_execution_"), _ANTHROPIC_SERVER_TOOLS),),
    "openai_responses": (
        (
            ("web_search", "file_search", "code_interpreter", "image_generation"),
            "tools[] hosted (web_search*, file_search, code_interpreter, image_generation)",
        ),
        (("namespace",), "tools[] namespace"),
        (("custom", "local_shell", "mcp"), "tools[] custom, local_shell, mcp"),
    ),
    "openai_chat": (),
}


def rule_for(dialect: Dialect, name: str, value: Any = None) -> FieldRule:
    """The rule of the member ``name`` (a top-level name, or the path of a list item the schema
    set apart: ``tools[3]``, ``input[7]``) whose value is ``value``."""
    table = POLICY[dialect]
    if name in table:
        return table[name]
    if name.startswith("tools["):
        kind = value.get("type") if isinstance(value, dict) else None
        for prefixes, row in _TOOL_RULES[dialect]:
            if isinstance(kind, str) and kind.startswith(prefixes):
                return table[row]
        # Any other typed tool of the Messages API is one of its own (set apart only if typed).
        return table[_ANTHROPIC_CLIENT_TOOLS] if dialect == "anthropic" else UNKNOWN
    if name.startswith("input["):
        kind = value.get("type") if isinstance(value, dict) else None
        return table["input[] reasoning items" if kind == "reasoning" else "input[] items of other types"]
    return UNKNOWN


def check(request: ChatRequest, provider: Provider, model: ModelSpec) -> None:
    """Refuse, with a 400 naming it, the first field the policy refuses for ``provider`` with
    ``model``: for the dialect it speaks (``DialectSpeaker``; none when it is not one)."""
    ext = request.extensions
    if ext is None:
        return
    same = isinstance(provider, DialectSpeaker) and provider.speaks(request, model) == ext.dialect
    for name, value in ext.fields.items():
        rule = rule_for(ext.dialect, name, value)
        if (rule.same if same else rule.other) != "refuse":
            continue
        if same:
            message = f"{name} is not supported through this gateway: {rule.why}"
        elif rule is UNKNOWN:  # OpenAI's words, which clients match (docs/field-policy.md says the rest)
            message = f"Unrecognized request argument supplied: {name}"
        else:
            message = (
                f"{name} is supported only by models served through {DIALECT_NAMES[ext.dialect]}, and "
                f"{model.id!r} is not: {rule.why}"
            )
        raise UnsupportedParameter(message, param=name)


def wants_own_api(ext: Extensions) -> bool:
    """Whether ``ext`` holds something its dialect's upstream would take and any other drops or
    refuses: a reason to send the request through that API where the provider has a choice."""
    return any(rule_for(ext.dialect, name, value).same == "forward" for name, value in ext.fields.items())


def forwarded(ext: Extensions | None, dialect: Dialect) -> dict[str, Any]:
    """The top-level fields a provider speaking ``dialect`` adds to its body as sent."""
    if ext is None or ext.dialect != dialect:
        return {}
    return {
        name: value
        for name, value in ext.fields.items()
        if "[" not in name and rule_for(dialect, name, value).same == "forward"
    }


def as_written(ext: Extensions | None, dialect: Dialect) -> bool:
    """Whether a provider speaking ``dialect`` sends the client's own body (``sendable``)."""
    return ext is not None and ext.body is not None and ext.dialect == dialect


def sendable(ext: Extensions | None, dialect: Dialect) -> dict[str, Any] | None:
    """The client's whole body without what the policy drops even for ``dialect`` (tools and
    top-level members), for a provider that sends it on; ``None`` when there is none to send."""
    if ext is None or ext.body is None or not as_written(ext, dialect):
        return None
    body = {k: v for k, v in ext.body.items() if rule_for(dialect, k, v).same != "drop"}
    tools = body.get("tools")
    if isinstance(tools, list):
        body["tools"] = [t for i, t in enumerate(tools) if rule_for(dialect, f"tools[{i}]", t).same != "drop"]
        if not body["tools"]:
            del body["tools"]
            body.pop("tool_choice", None)
    return body
