"""What an upstream needs back on the next turn that the OpenAI wire has no field for.

Anthropic's signed ``thinking`` blocks must precede the ``tool_use`` blocks they led to when the
conversation continues with the tool results; Gemini 3 rejects a replayed ``functionCall`` part
without its ``thoughtSignature``. A chat-completions client echoes only the tool call ids, so the
provider remembers these opaque items under the ids of the tool calls they belong to, and puts
them back when the same ids come in again.

The memory is per process and bounded (least recently used out). Each adapter documents what it
does when an id is unknown (another process, a restart, an evicted entry).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["ReplayCache"]

T = TypeVar("T")


class ReplayCache(Generic[T]):
    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, T] = OrderedDict()

    def put(self, key: str, value: T) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def get(self, key: str) -> T | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def __len__(self) -> int:
        return len(self._items)
