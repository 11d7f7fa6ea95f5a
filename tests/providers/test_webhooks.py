"""Job webhooks: one signed POST through the guarded transport, a signature a receiver verifies
(and that an independent HMAC reproduces), private addresses refused when vetted and at connect
(a name that turns private after it was vetted), redirects not followed, failures and timeouts
``False``, the retry schedule, and the secret's settings and kept file.

The receiver is an aiohttp server on 127.0.0.1 that keeps the raw bodies (a signature is over
the bytes sent); names resolve through ``FakeResolver`` and only 127.0.0.1 is exempted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import stat
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from tests.providers.resolvers import FakeResolver
from tests.providers.test_fetch import LOOPBACK, NAMES
from unigate.errors import InvalidRequest
from unigate.providers.webhook_signing import SECRET_FILE, sign, verify, webhook_secret
from unigate.providers.webhooks import HttpWebhooks, retry_after, webhook_policy, webhooks_for
from unigate.settings import Settings, load_settings

SECRET = "whsec-test-0123456789abcdef0123456789abcdef"
NOW = 1_700_000_000
DONE = {"id": "job_abc", "status": "completed", "video": {"url": "https://gw.example/v1/media/f1"}}
FAILED = {"id": "job_def", "status": "error", "error": {"name": "Error", "message": "upstream failed"}}


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver: answers with the queued statuses (200 when none), after ``delay_s``."""

    received: list[Received] = field(default_factory=list)
    statuses: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    delay_s: float = 0.0
    port: int = 0
    app: web.Application = field(default_factory=web.Application)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        await asyncio.sleep(self.delay_s)
        status, headers = self.statuses.popleft() if self.statuses else (200, {})
        return web.Response(status=status, headers=headers, text="ok")

    def url(self, host: str = "hooks.test", path: str = "/hook") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver()
    made.app.router.add_route("*", "/{tail:.*}", made.handle)
    runner = web.AppRunner(made.app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    made.port = runner.addresses[0][1]
    yield made
    await runner.cleanup()


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver({**NAMES, "hooks.test": ["127.0.0.1"], "rebind.test": ["127.0.0.1"]})


@pytest.fixture
async def webhooks(resolver: FakeResolver) -> AsyncIterator[HttpWebhooks]:
    made = HttpWebhooks(
        SECRET, policy=replace(webhook_policy(), exempt=LOOPBACK, timeout_s=1.0), resolver=resolver, clock=lambda: NOW
    )
    await made.start()
    yield made
    await made.close()


async def test_a_delivery_is_one_signed_post(receiver: Receiver, webhooks: HttpWebhooks) -> None:
    assert await webhooks.deliver(receiver.url(path="/hook?token=1"), DONE) is True
    (got,) = receiver.received
    assert (got.method, got.path) == ("POST", "/hook")
    assert orjson.loads(got.body) == DONE
    headers = got.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "unigate-webhooks"
    assert headers["X-Unigate-Event"] == "job.completed"
    assert headers["X-Unigate-Timestamp"] == str(NOW)
    assert not {"Cookie", "Authorization"} & set(headers)
    # The documented scheme, computed independently: hex HMAC-SHA256 of "{timestamp}.{body}".
    mac = hmac.new(SECRET.encode(), f"{NOW}.".encode() + got.body, hashlib.sha256).hexdigest()
    assert headers["X-Unigate-Signature"] == f"v1={mac}"
    assert verify(SECRET, headers["X-Unigate-Timestamp"], got.body, headers["X-Unigate-Signature"], now=NOW + 10)


async def test_a_failed_job_is_a_job_failed_event(receiver: Receiver, webhooks: HttpWebhooks) -> None:
    assert await webhooks.deliver(receiver.url(), FAILED) is True
    assert receiver.received[0].headers["X-Unigate-Event"] == "job.failed"
    with pytest.raises(ValueError, match="has ended"):
        await webhooks.deliver(receiver.url(), {"id": "job_x", "status": "generating"})
    assert len(receiver.received) == 1


def test_verify_refuses_what_was_not_signed_so() -> None:
    body = orjson.dumps(DONE)
    good = sign(SECRET, str(NOW), body)
    assert verify(SECRET, str(NOW), body, good, now=NOW)
    assert verify(SECRET.encode(), str(NOW), body, f"v1=00ff, {good}", now=NOW)  # one of several matches
    assert not verify("another-secret-0123456789abcdef0123456789", str(NOW), body, good, now=NOW)
    assert not verify(SECRET, str(NOW), body + b" ", good, now=NOW)  # a body changed by a byte
    assert not verify(SECRET, str(NOW + 1), body, good, now=NOW)  # a timestamp changed
    assert not verify(SECRET, str(NOW), body, good, now=NOW + 301)  # replayed too late
    assert not verify(SECRET, str(NOW), body, good, now=NOW - 301)
    assert not verify(SECRET, "17e8", body, good, now=NOW)
    assert not verify(SECRET, str(NOW), body, good.removeprefix("v1="), now=NOW)


@pytest.mark.parametrize(("status", "taken"), [(500, False), (404, False), (410, False), (429, False), (204, True)])
async def test_only_a_2xx_answer_is_a_delivery(
    receiver: Receiver, webhooks: HttpWebhooks, status: int, taken: bool
) -> None:
    receiver.statuses.append((status, {}))
    assert await webhooks.deliver(receiver.url(), DONE) is taken


@pytest.mark.parametrize("code", [301, 302, 307, 308])
async def test_a_redirect_is_not_followed(receiver: Receiver, webhooks: HttpWebhooks, code: int) -> None:
    receiver.statuses.append((code, {"Location": receiver.url(path="/elsewhere")}))
    assert await webhooks.deliver(receiver.url(), DONE) is False
    assert [r.path for r in receiver.received] == ["/hook"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.7/hook", "private address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address"),
        ("http://[::1]:8080/hook", "loopback address"),
        ("http://localhost:8080/hook", "internal name"),
        ("http://metadata.google.internal/", "internal name"),
        ("http://2130706433/", "not a canonical name"),
        ("ftp://example.com/hook", "only http and https"),
        ("http://user:pass@example.com/hook", "credentials"),
        ("not a url", "only http and https"),
        ("http:///hook", "no host"),
        ("https://example.com/" + "a" * 2100, "longer than 2048 characters"),
    ],
)
def test_vet_refuses_what_may_not_be_called(url: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message) as caught:
        HttpWebhooks(SECRET).vet(url)
    err = caught.value
    assert (err.status, err.param, err.code) == (400, "callback_url", "invalid_url")
    assert err.message.startswith("The callback_url cannot be used: ")


def test_vet_takes_a_public_url_without_resolving_it(resolver: FakeResolver) -> None:
    HttpWebhooks(SECRET, resolver=resolver).vet("https://hooks.example.com/unigate?token=abc")
    assert resolver.asked == []


async def test_a_name_that_resolves_inward_is_refused_at_connect(
    receiver: Receiver, resolver: FakeResolver, caplog: pytest.LogCaptureFixture
) -> None:
    strict = HttpWebhooks(SECRET, policy=replace(webhook_policy(), timeout_s=1.0), resolver=resolver)
    await strict.start()
    try:
        with caplog.at_level(logging.WARNING, "unigate.providers"):
            assert await strict.deliver(receiver.url("internal.test"), DONE) is False
            assert await strict.deliver(receiver.url("hooks.test"), DONE) is False  # 127.0.0.1, not exempt
    finally:
        await strict.close()
    assert receiver.received == []
    assert "internal.test (10.0.0.7) is a private address" in caplog.text
    assert "hooks.test (127.0.0.1) is a loopback address" in caplog.text
    assert "token" not in caplog.text


async def test_dns_rebinding_is_caught_at_connect(receiver: Receiver, resolver: FakeResolver) -> None:
    """A name's answer that turns inward after it was vetted and used: the next connection vets it
    again. A retry comes 10 s or more later, past aiohttp's DNS cache (which holds only vetted
    answers, for 10 s); a second client stands for it here. 127.0.0.2 is loopback but not the
    exempted 127.0.0.1, and the receiver listens there too: only the guard can stop the post."""
    runner = web.AppRunner(receiver.app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.2", receiver.port).start()
    policy = replace(webhook_policy(), exempt=LOOPBACK, timeout_s=1.0)
    url = receiver.url("rebind.test")
    try:
        for turned_inward in (False, True):
            if turned_inward:
                resolver.names["rebind.test"] = ["127.0.0.2"]  # the same name, now pointing inward
            client = HttpWebhooks(SECRET, policy=policy, resolver=resolver)
            client.vet(url)  # a check without the network sees nothing either time
            await client.start()
            try:
                assert await client.deliver(url, DONE) is not turned_inward
            finally:
                await client.close()
    finally:
        await runner.cleanup()
    assert len(receiver.received) == 1


async def test_a_slow_or_absent_receiver_is_a_false_never_a_raise(receiver: Receiver, resolver: FakeResolver) -> None:
    quick = HttpWebhooks(SECRET, policy=replace(webhook_policy(), exempt=LOOPBACK, timeout_s=0.2), resolver=resolver)
    await quick.start()
    receiver.delay_s = 2.0
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        assert await quick.deliver(receiver.url(), DONE) is False
        assert loop.time() - started < 1.0
        assert await quick.deliver("http://nowhere.test/hook", DONE) is False  # does not resolve
        assert await quick.deliver("http://hooks.test:9/hook", DONE) is False  # nothing listens there
    finally:
        await quick.close()


def test_the_retry_schedule_grows_then_gives_up() -> None:
    assert retry_after(0) == 0.0
    assert [retry_after(n) for n in range(1, 8)] == [10.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, None]
    assert retry_after(50) is None


def test_the_secret_setting(tmp_path: Path) -> None:
    env = {"UNIGATE_DATA_DIR": str(tmp_path), "UNIGATE_WEBHOOK_SECRET": SECRET}
    settings = load_settings(env=env)
    assert settings.webhook_secret == SECRET
    assert SECRET not in repr(settings)
    assert webhook_secret(settings) == SECRET
    assert webhooks_for(settings).secret == SECRET
    assert not (tmp_path / SECRET_FILE).exists()
    with pytest.raises(ValueError, match="at least 32 characters"):
        load_settings(env={**env, "UNIGATE_WEBHOOK_SECRET": "short"})


def test_unset_a_secret_is_kept_in_the_data_dir(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = webhook_secret(settings)
    kept = tmp_path / "data" / SECRET_FILE
    assert kept.read_text() == first
    assert len(first) == 64
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert webhook_secret(settings) == first  # across restarts
    assert list(kept.parent.iterdir()) == [kept]  # no temporary file left
    with caplog.at_level(logging.WARNING, "unigate.providers"):
        assert webhook_secret(replace(settings, database_url="postgresql://u@db/unigate")) == first
    assert "other replicas do not share" in caplog.text
    kept.write_text("abc")
    with pytest.raises(ValueError, match="damaged"):
        webhook_secret(settings)


def test_a_secret_that_cannot_be_kept_is_the_processs_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("not a directory")
    settings = Settings(data_dir=tmp_path / "file" / "data")
    with caplog.at_level(logging.WARNING, "unigate.providers"):
        one, two = webhook_secret(settings), webhook_secret(settings)
    assert len(one) == 64
    assert one != two
    assert "receivers cannot know" in caplog.text
