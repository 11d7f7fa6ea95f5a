"""Every upstream fault of ``tests/providers/test_faults.py`` again, with the adapters on the proxy
transport (connecting directly: ``NO_PROXY`` hosts take this path): the same typed errors, the same
timeouts, and a departed client closing the upstream connection, whichever transport is chosen."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.providers.emulators import Emulator, provider_config
from tests.providers.test_faults import (
    Kind,
    Make,
    kind,
    test_a_body_cut_mid_json_is_an_error,
    test_a_departed_client_closes_the_upstream_connection,
    test_a_non_json_success_body_is_an_error,
    test_a_slow_first_byte_times_out,
    test_a_stalled_stream_times_out,
    test_a_stream_cut_before_its_finish_is_an_error,
    test_an_unreachable_upstream,
    test_cancelling_a_completion_closes_the_upstream_connection,
    test_error_statuses,
)
from unigate.core.provider import Provider
from unigate.providers.config import Timeouts
from unigate.providers.transport.proxy import Proxies, ProxyTransport

__all__ = [
    "kind",
    "test_a_body_cut_mid_json_is_an_error",
    "test_a_departed_client_closes_the_upstream_connection",
    "test_a_non_json_success_body_is_an_error",
    "test_a_slow_first_byte_times_out",
    "test_a_stalled_stream_times_out",
    "test_a_stream_cut_before_its_finish_is_an_error",
    "test_an_unreachable_upstream",
    "test_cancelling_a_completion_closes_the_upstream_connection",
    "test_error_statuses",
]


@pytest.fixture
async def make(upstream: Emulator, kind: Kind) -> AsyncIterator[Make]:
    made: list[Provider] = []

    async def factory(timeouts: Timeouts | None = None, url: str | None = None) -> Provider:
        config = provider_config(kind.name, (url or upstream.url) + kind.path, timeouts=timeouts)
        provider = kind.build(config, transport=ProxyTransport(Proxies()))  # type: ignore[call-arg]
        await provider.start()
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.close()
