"""A console client: an HTTP client with a cookie jar that signs in through the login form and
finds the CSRF token in the pages, as a browser would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.serving import Server

MANAGEMENT_KEY = "mk-test"  # the ``server`` fixture's


class Console:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx2.Client(base_url=server.url, follow_redirects=False, timeout=30)

    def close(self) -> None:
        self.http.close()

    def sign_in(self, key: str, *, next_path: str | None = None) -> httpx2.Response:
        form = self.http.get("/console/login" + (f"?next={next_path}" if next_path else ""))
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token is not None, form.text
        data = {"login_token": token.group(1), "key": key, "next": next_path or ""}
        return self.http.post("/console/login", data=data)

    def csrf(self, path: str = "/console/keys") -> str:
        page = self.http.get(path)
        found = re.search(r'<meta name="csrf-token" content="([^"]*)">', page.text)
        assert found is not None, page.text[:500]
        assert found.group(1)
        return found.group(1)

    def post_form(self, path: str, data: dict[str, str], *, csrf: str | None = None) -> httpx2.Response:
        token = self.csrf() if csrf is None else csrf
        return self.http.post(path, data={"csrf_token": token, **data})

    def chat(self, body: dict[str, Any], *, csrf: str | None = None) -> httpx2.Response:
        token = self.csrf("/console/playground") if csrf is None else csrf
        return self.http.post("/console/api/chat", json=body, headers={"X-CSRF-Token": token})


@pytest.fixture
def console(server: Server) -> Iterator[Console]:
    client = Console(server)
    yield client
    client.close()


@pytest.fixture
def admin(console: Console) -> Console:
    """A console client signed in with the management key."""
    assert console.sign_in(MANAGEMENT_KEY).status_code == 303
    return console
