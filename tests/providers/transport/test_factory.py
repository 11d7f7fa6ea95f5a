"""``UNIGATE_UPSTREAM_TRANSPORT`` and ``UNIGATE_FETCH_VIA_PROXY``: read from the environment and the
``[upstream]`` table, and what the factory builds from them with and without proxy variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from unigate.providers.transport.factory import build_transport, chosen_transport, fetch_proxies
from unigate.providers.transport.h1 import H1Transport
from unigate.providers.transport.proxy import Proxies, ProxyTransport
from unigate.settings import Settings, UpstreamTransport, load_settings


@pytest.mark.parametrize(
    ("setting", "env", "chosen"),
    [
        ("auto", {}, "h1"),
        ("auto", {"HTTPS_PROXY": "http://proxy:3128"}, "proxy"),
        ("auto", {"http_proxy": "http://proxy:3128"}, "proxy"),
        ("auto", {"ALL_PROXY": "http://proxy:3128"}, "proxy"),
        ("auto", {"HTTPS_PROXY": ""}, "h1"),
        ("auto", {"NO_PROXY": "example.com"}, "h1"),  # alone it names no proxy
        ("h1", {"HTTPS_PROXY": "http://proxy:3128"}, "h1"),
        ("proxy", {}, "proxy"),
    ],
)
def test_the_choice(setting: UpstreamTransport, env: dict[str, str], chosen: str) -> None:
    assert chosen_transport(setting, env) == chosen


def test_what_is_built() -> None:
    proxied = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "localhost"}
    assert isinstance(build_transport(env={}), H1Transport)
    built = build_transport(env=proxied)
    assert isinstance(built, ProxyTransport)
    assert built.proxies == Proxies(https="http://proxy:3128", no_proxy=("localhost",))
    assert isinstance(build_transport(Settings(upstream_transport="h1"), env=proxied), H1Transport)
    assert isinstance(build_transport(Settings(upstream_transport="proxy"), env={}), ProxyTransport)
    assert build_transport(env={}) is not build_transport(env={})  # one per adapter, each its own pool


def test_the_fetcher_keeps_off_the_proxy_unless_told() -> None:
    env = {"HTTPS_PROXY": "http://proxy:3128"}
    assert fetch_proxies(Settings(), env=env) is None
    assert fetch_proxies(Settings(fetch_via_proxy=True), env=env) == Proxies(https="http://proxy:3128")


def test_the_settings(tmp_path: Path) -> None:
    assert (load_settings(env={}).upstream_transport, load_settings(env={}).fetch_via_proxy) == ("auto", False)
    config = tmp_path / "unigate.toml"
    config.write_text('[upstream]\ntransport = "h1"\nfetch_via_proxy = true\n')
    from_file = load_settings(config, env={})
    assert (from_file.upstream_transport, from_file.fetch_via_proxy) == ("h1", True)
    env = {"UNIGATE_UPSTREAM_TRANSPORT": "Proxy", "UNIGATE_FETCH_VIA_PROXY": "0"}
    overridden = load_settings(config, env=env)
    assert (overridden.upstream_transport, overridden.fetch_via_proxy) == ("proxy", False)
    with pytest.raises(ValueError, match="unknown upstream transport 'socks'"):
        load_settings(env={"UNIGATE_UPSTREAM_TRANSPORT": "socks"})
    config.write_text('[upstream]\nproxy = "http://p"\n')
    with pytest.raises(ValueError, match=r"unknown \[upstream\] settings: proxy"):
        load_settings(config, env={})
