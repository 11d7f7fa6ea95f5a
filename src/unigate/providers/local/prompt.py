"""Rendering canonical messages into the prompt text the local model was trained on.

The GGUF file carries its own Jinja chat template (``tokenizer.chat_template``); we render it the
way Hugging Face ``transformers`` does (sandboxed, ``trim_blocks``/``lstrip_blocks``, ``tojson``
without ASCII escaping). Tools are described in the system message as plain text rather than
passed to the template, so that models whose template ignores ``tools`` still see them, in one
call format that the provider knows how to parse back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jsonschema import Draft202012Validator

from unigate.core.chat import ChatRequest, FunctionTool, Message, NamedToolChoice, ToolCall, ToolChoice
from unigate.errors import InvalidRequest

__all__ = ["CHATML_TEMPLATE", "ChatTemplate", "call_text", "parse_call", "prompt_messages", "tool_instructions"]

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}"
)
"""Used when a GGUF file has no chat template of its own."""

Turn = dict[str, str]


class ChatTemplate:
    """A compiled chat template; ``render`` is pure and cheap enough for the event loop."""

    def __init__(self, source: str, *, bos_token: str, eos_token: str) -> None:
        environment = ImmutableSandboxedEnvironment(
            loader=jinja2.BaseLoader(),
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=[jinja2.ext.loopcontrols],
        )
        environment.filters["tojson"] = _tojson
        self._template = environment.from_string(source)
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(self, turns: Sequence[Turn]) -> str:
        """The prompt for ``turns``, ending with the assistant's generation prompt."""
        return self._template.render(
            messages=list(turns),
            add_generation_prompt=True,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
            raise_exception=_raise_exception,
            strftime_now=lambda fmt: datetime.now().strftime(fmt),
        )

    def render_request(self, request: ChatRequest) -> str:
        """Render with native ``tool`` turns; if the template refuses them, as labelled user turns."""
        try:
            return self.render(prompt_messages(request, tool_role=True))
        except jinja2.TemplateError:
            pass
        try:
            return self.render(prompt_messages(request, tool_role=False))
        except jinja2.TemplateError as exc:
            raise InvalidRequest(
                f"The model's chat template cannot render these messages: {exc}", param="messages"
            ) from None


def prompt_messages(request: ChatRequest, *, tool_role: bool = True) -> list[Turn]:
    """The chat turns (``role``/``content``) for the template, tool descriptions included.

    ``developer`` becomes ``system``; an assistant's tool calls become the JSON text the model is
    asked to produce; tool results become ``tool`` turns, or user turns saying whose result they
    are when ``tool_role`` is false (for templates that only know system/user/assistant).
    """
    names = {call.id: call.name for m in request.messages for call in m.tool_calls}
    turns = [_turn(m, names, tool_role=tool_role) for m in request.messages]
    instructions = tool_instructions(request.tools, request.effective_tool_choice())
    if instructions:
        if turns and turns[0]["role"] == "system":
            turns[0] = {"role": "system", "content": f"{turns[0]['content']}\n\n{instructions}"}
        else:
            turns.insert(0, {"role": "system", "content": instructions})
    return turns


def tool_instructions(tools: Sequence[FunctionTool], choice: ToolChoice) -> str | None:
    """The system-prompt text that describes ``tools`` for ``choice``; ``None`` when hidden."""
    if not tools or choice == "none":
        return None
    if isinstance(choice, NamedToolChoice):
        shown = [t for t in tools if t.name == choice.name]
        head = (
            f"Call the function {choice.name!r} now. Reply with only the JSON object of its "
            "arguments, following the parameters schema below."
        )
    else:
        shown = list(tools)
        form = 'a JSON object {"name": <function name>, "arguments": <arguments object>}'
        if choice == "required":
            head = f"You must call one of these functions. Reply with only {form}."
        else:
            head = (
                f"You can call these functions. To call one, reply with only {form} and nothing "
                "else. If no function is needed, answer normally."
            )
    lines = [head, "", "Functions:"]
    for tool in shown:
        description: dict[str, Any] = {"name": tool.name}
        if tool.description:
            description["description"] = tool.description
        description["parameters"] = tool.parameters or {"type": "object", "properties": {}}
        lines.append(json.dumps(description, ensure_ascii=False))
    return "\n".join(lines)


def call_text(call: ToolCall) -> str:
    """A past tool call written the way the model is asked to write one."""
    try:
        arguments: Any = json.loads(call.arguments)
    except ValueError:
        arguments = call.arguments
    return json.dumps({"name": call.name, "arguments": arguments}, ensure_ascii=False)


def parse_call(text: str, tools: Sequence[FunctionTool]) -> tuple[str, str] | None:
    """``(name, compact arguments)`` when ``text`` is exactly one call in the format we ask for.

    Lenient where a small model drifts harmlessly (``parameters`` for ``arguments``, arguments
    as a JSON string) but strict on substance: a known function, an object of arguments that
    validates against its ``parameters``, and no other keys. Anything else is an answer.
    """
    try:
        call = json.loads(text)
    except ValueError:
        return None
    if not isinstance(call, dict) or not set(call) <= {"name", "arguments", "parameters"}:
        return None
    tool = next((t for t in tools if t.name == call.get("name")), None)
    arguments = call.get("arguments", call.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if tool is None or not isinstance(arguments, dict):
        return None
    if tool.parameters is not None and not Draft202012Validator(tool.parameters).is_valid(arguments):
        return None
    return tool.name, json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))


def _turn(message: Message, names: dict[str, str], *, tool_role: bool) -> Turn:
    text = message.text()
    if message.role == "developer":
        return {"role": "system", "content": text}
    if message.role == "assistant" and message.tool_calls:
        calls = "\n".join(call_text(c) for c in message.tool_calls)
        return {"role": "assistant", "content": f"{text}\n{calls}" if text else calls}
    if message.role == "tool":
        if tool_role:
            return {"role": "tool", "content": text}
        name = names.get(message.tool_call_id or "", message.name or "the function")
        return {"role": "user", "content": f"Result of {name}:\n{text}"}
    return {"role": message.role, "content": text}


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise_exception(message: str) -> NoReturn:
    raise jinja2.TemplateError(message)
