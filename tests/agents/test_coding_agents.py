"""The three coding agents, unchanged and pinned (``tests/agents/package.json``), run
non-interactively against the gateway: Claude Code (``claude -p``) on ``/v1/messages``, Codex
(``codex exec``) on ``/v1/responses`` and opencode (``opencode run``) on ``/v1/chat/completions``.

Behind the gateway a scripted upstream (``upstreams.py``) makes each agent read a file holding a
random secret with its own tool, then answers from the tool result; a recording pass-through
(``tap.py``) keeps what the agent sent. Each test checks the agent's answer, the tool round trip
through the gateway, that the upstream received the agent's own fields and headers (and, on the
second turn, the opaque thinking signature or encrypted reasoning it handed out), and the ledger.
The last two run opencode against the embedded model, and show why it needs an agent of its own
there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.agents.conftest import BIN
from tests.agents.tap import Tap
from tests.agents.upstreams import Reported, ScriptedUpstream, new_secret, tool_results
from tests.providers.emulators import EmulatorThread, Recorded, fixture_json, provider_config
from tests.serving import Server, fake_settings
from unigate.catalog.builtin import LOCAL_CHAT_MODEL_ID
from unigate.catalog.loader import load_catalog
from unigate.catalog.spec import ModelSpec, Price
from unigate.core.provider import Provider
from unigate.providers.anthropic import AnthropicProvider
from unigate.providers.openai_compat import OpenAICompatProvider
from unigate.settings import LocalModelSettings

pytestmark = pytest.mark.agents

CATALOG = {s.id: s for s in load_catalog()}
CLAUDE = CATALOG["anthropic/claude-sonnet-4.6"]
CODEX = CATALOG["openai/gpt-5-1-codex"]
"""Served only through OpenAI's Responses API (``upstream_api = "responses"``), as Codex speaks."""
GPT = CATALOG["gpt-4o"]
NODE_DIR = os.path.dirname(shutil.which("node") or "/usr/bin/node")
"""Codex's launcher is a Node script (``#!/usr/bin/env node``); the other two are native."""
TIMEOUT_S = 120
CREDITS = 1_000_000_000
PROMPT = "What does the file {path} hold? Read it, then answer with the code it holds."


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    scripted = ScriptedUpstream()
    with EmulatorThread(scripted):
        yield scripted


@pytest.fixture(scope="module")
def server(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    providers: dict[str, Provider] = {
        "anthropic": AnthropicProvider(provider_config("anthropic", upstream.url)),
        "openai": OpenAICompatProvider(provider_config("openai", upstream.url + "/v1")),
    }
    data_dir: Path = tmp_path_factory.mktemp("agents")
    running = Server(fake_settings(data_dir), models=[CLAUDE, CODEX, GPT], providers=providers).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tap(server: Server) -> Iterator[Tap]:
    recorder = Tap(server.url)
    server.call(recorder.start())
    yield recorder
    server.call(recorder.close())


@dataclass
class Workspace:
    """An agent's temporary home and working folder, and the file with the secret it must read."""

    home: Path
    work: Path
    file: Path
    secret: str

    def env(self, **extra: str) -> dict[str, str]:
        """Nothing of the machine's own environment: a home and config folders of its own."""
        return {
            "PATH": f"{NODE_DIR}:{os.defpath}",
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local/share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_STATE_HOME": str(self.home / ".local/state"),
            "TMPDIR": str(self.home / "tmp"),
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "NO_COLOR": "1",
            **extra,
        }


def new_workspace(tmp_path: Path) -> Workspace:
    home, work = tmp_path / "home", tmp_path / "work"
    (home / "tmp").mkdir(parents=True)
    work.mkdir()
    secret = new_secret()
    file = work / "note.txt"
    file.write_text(f"The code is {secret}\n")
    return Workspace(home, work, file, secret)


@pytest.fixture
def workspace(tmp_path: Path, upstream: ScriptedUpstream, tap: Tap) -> Workspace:
    """A new workspace, the upstream scripted to read its file, and nothing recorded yet."""
    made = new_workspace(tmp_path)
    upstream.requests.clear()
    upstream.reported.clear()
    upstream.opaque.clear()
    upstream.file = str(made.file)
    tap.requests.clear()
    return made


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def run_agent(argv: list[str], workspace: Workspace, env: dict[str, str]) -> Run:
    started = time.monotonic()
    done = subprocess.run(
        argv,
        cwd=workspace.work,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def model_requests(recorded: list[Recorded], path: str) -> list[Recorded]:
    return [r for r in recorded if r.method == "POST" and r.path == path]


def settled_rows(server: Server, account_id: int, count: int) -> list[tuple[Any, ...]]:
    """The account's usage rows once ``count`` are there: the last settles as its stream ends,
    which may be just after the agent has its answer."""
    deadline = time.monotonic() + 10
    while len(rows := server.usage_rows(account_id)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return rows


def assert_ledger(server: Server, account_id: int, spec: ModelSpec, reported: list[Reported]) -> None:
    """One row per upstream answer, at the tokens it reported and the model's price; the balance
    fell by their sum."""
    rows = settled_rows(server, account_id, len(reported))
    expected = [
        (spec.id, r.prompt_tokens, r.completion_tokens, spec.price.cost(r.prompt_tokens, r.completion_tokens), "ok")
        for r in reported
    ]
    assert sorted(rows) == sorted(expected)
    assert server.balance(account_id) == CREDITS - sum(row[3] for row in expected)


def blocks(request: Recorded, kind: str) -> list[dict[str, Any]]:
    """The Anthropic content blocks of ``kind`` in ``request``'s messages."""
    return [
        b
        for m in request.body["messages"]
        if isinstance(m.get("content"), list)
        for b in m["content"]
        if b.get("type") == kind
    ]


def items(request: Recorded, kind: str) -> list[dict[str, Any]]:
    """The Responses input items of ``kind`` in ``request``."""
    return [i for i in request.body["input"] if i.get("type") == kind]


def test_claude_code(server: Server, upstream: ScriptedUpstream, tap: Tap, workspace: Workspace) -> None:
    key, account_id = server.new_key(credits=CREDITS)
    env = workspace.env(
        ANTHROPIC_BASE_URL=tap.url,
        ANTHROPIC_API_KEY=key,
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",  # no telemetry, error reports or update checks
    )
    # In -p mode Claude Code reads files inside its working folder without asking.
    argv = [str(BIN / "claude"), "-p", PROMPT.format(path=workspace.file), "--model", CLAUDE.id]
    run = run_agent([*argv, "--no-session-persistence"], workspace, env)

    assert run.returncode == 0, run.stderr + run.stdout
    assert workspace.secret in run.stdout
    sent = model_requests(tap.requests, "/v1/messages")
    got = model_requests(upstream.requests, "/v1/messages")
    assert len(sent) == len(got) == 2
    for agent, ours in zip(sent, got, strict=True):
        # The same dialect: the agent's whole body goes on as written (context_management, thinking,
        # output_config, metadata, cache breakpoints, the deferred tool), with the upstream's model id.
        assert ours.body == {**agent.body, "model": CLAUDE.upstream_model}
        assert set(ours.headers["anthropic-beta"].split(",")) == set(agent.headers["anthropic-beta"].split(","))
    # Turn 2: the Read call's result, and the signed thinking block handed out on turn 1, as sent back.
    assert workspace.secret in "".join(tool_results(got[1]))
    assert [b["signature"] for b in blocks(got[1], "thinking")] == upstream.opaque
    assert blocks(got[1], "thinking") == blocks(sent[1], "thinking")
    assert_ledger(server, account_id, CLAUDE, upstream.reported)


def test_codex(server: Server, upstream: ScriptedUpstream, tap: Tap, workspace: Workspace) -> None:
    key, account_id = server.new_key(credits=CREDITS)
    codex_home = workspace.home / ".codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(
        f'model = "{CODEX.id}"\n'
        'model_provider = "unigate"\n'
        "check_for_update_on_startup = false\n"
        "[model_providers.unigate]\n"
        'name = "unigate"\n'
        f'base_url = "{tap.url}/v1"\n'
        'env_key = "UNIGATE_API_KEY"\n'
        'wire_api = "responses"\n'
    )
    env = workspace.env(CODEX_HOME=str(codex_home), UNIGATE_API_KEY=key)
    # exec never asks for approval. Its sandbox (bubblewrap) needs user namespaces, which not every
    # machine that runs the tests allows, and is not under test: the scripted command only reads.
    argv = [str(BIN / "codex"), "exec", "--skip-git-repo-check", "--ephemeral"]
    argv += ["--dangerously-bypass-approvals-and-sandbox"]
    run = run_agent([*argv, PROMPT.format(path=workspace.file)], workspace, env)

    assert run.returncode == 0, run.stderr + run.stdout
    assert workspace.secret in run.stdout
    sent = model_requests(tap.requests, "/v1/responses")
    got = model_requests(upstream.requests, "/v1/responses")
    assert len(sent) == len(got) == 2
    for agent, ours in zip(sent, got, strict=True):
        # The same dialect: the agent's whole body goes on as written (client_metadata,
        # prompt_cache_key, include, store: false, its namespace tool, every input item), with the
        # upstream's model id, less the hosted web search billed per use (docs/field-policy.md).
        unmetered = [t for t in agent.body["tools"] if t["type"] == "web_search"]
        tools = [t for t in agent.body["tools"] if t not in unmetered]
        assert ours.body == {**agent.body, "model": CODEX.upstream_model, "tools": tools}
        assert ours.body["store"] is False
    # Turn 2: the command's output, and the reasoning item with its encrypted content, as sent back.
    assert workspace.secret in "".join(tool_results(got[1]))
    sealed = [i["encrypted_content"] for i in items(sent[1], "reasoning")]
    assert sealed == upstream.opaque
    assert [i.get("encrypted_content") for i in items(got[1], "reasoning")] == sealed
    assert_ledger(server, account_id, CODEX, upstream.reported)


def opencode_config(base_url: str, key: str, model: str) -> dict[str, Any]:
    """A custom OpenAI-compatible provider, as opencode's docs configure one."""
    provider = {
        "npm": "@ai-sdk/openai-compatible",
        "name": "unigate",
        "options": {"baseURL": base_url, "apiKey": key},
        "models": {model: {"name": model}},
    }
    return {"$schema": "https://opencode.ai/config.json", "provider": {"unigate": provider}}


OPENCODE_OFFLINE = {
    "OPENCODE_DISABLE_MODELS_FETCH": "1",  # models.dev
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    # opencode installs @opencode-ai/plugin into its config folder in the background, with its
    # own npm client; offline, that fails at once (logged) instead of reaching the registry.
    "npm_config_offline": "true",
}


def run_opencode(
    workspace: Workspace,
    base_url: str,
    key: str,
    model: str,
    prompt: str,
    *,
    agents: dict[str, Any] | None = None,
    agent: str | None = None,
    limit: dict[str, int] | None = None,
) -> Run:
    """``opencode run`` in ``workspace`` with its config there: the gateway as the one provider,
    ``agents`` defined or changed, ``agent`` chosen, ``model``'s limits told."""
    config = opencode_config(base_url, key, model)
    argv = [str(BIN / "opencode"), "run", "-m", f"unigate/{model}"]
    if limit is not None:
        config["provider"]["unigate"]["models"][model]["limit"] = limit
    if agents is not None:
        config["agent"] = agents
    if agent is not None:
        argv += ["--agent", agent]
    (workspace.work / "opencode.json").write_text(json.dumps(config))
    return run_agent([*argv, prompt], workspace, workspace.env(**OPENCODE_OFFLINE))


def test_opencode(server: Server, upstream: ScriptedUpstream, tap: Tap, workspace: Workspace) -> None:
    key, account_id = server.new_key(credits=CREDITS)
    run = run_opencode(workspace, tap.url + "/v1", key, GPT.id, PROMPT.format(path=workspace.file))

    assert run.returncode == 0, run.stderr + run.stdout
    assert workspace.secret in run.stdout
    sent = model_requests(tap.requests, "/v1/chat/completions")
    got = model_requests(upstream.requests, "/v1/chat/completions")
    # Besides its two turns, opencode asks for a session title (no tools), in parallel.
    turns = [r for r in got if r.body.get("tools")]
    agent_turns = [r for r in sent if r.body.get("tools")]
    assert len(sent) == len(got) == 3
    assert len(turns) == len(agent_turns) == 2
    for agent, ours in zip(agent_turns, turns, strict=True):
        assert ours.body["model"] == GPT.upstream_model
        assert [t["function"]["name"] for t in ours.body["tools"]] == [
            t["function"]["name"] for t in agent.body["tools"]
        ]
        assert ours.body["stream_options"] == agent.body["stream_options"]
    assert workspace.secret in "".join(tool_results(turns[1]))
    assert_ledger(server, account_id, GPT, upstream.reported)


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("agents-local")
    settings = fake_settings(data_dir, fake_models=False, local=LocalModelSettings(parallel=1))
    running = Server(settings).start()
    yield running
    running.stop()


@pytest.mark.model
def test_opencode_against_the_embedded_model(local_server: Server, tmp_path: Path) -> None:
    """With an agent of its own (a short prompt, no tools: the embedded model's 4,096-token
    context cannot hold opencode's own 8,000-token prompt, see the next test), no session title
    (one request fewer for a model that answers one at a time) and the model's limits in its
    config, opencode answers from the embedded model."""
    workspace = new_workspace(tmp_path)
    key, account_id = local_server.new_key(credits=CREDITS)
    plain = {"mode": "primary", "prompt": "You answer in one short sentence.", "tools": {"*": False}}
    limit = {"context": local_server.settings.local.n_ctx, "output": 32}
    agents = {"plain": plain, "title": {"disable": True}}
    url = local_server.url + "/v1"
    run = run_opencode(
        workspace, url, key, LOCAL_CHAT_MODEL_ID, "Say hello.", agents=agents, agent="plain", limit=limit
    )

    assert run.returncode == 0, run.stderr + run.stdout
    assert run.stdout.strip()
    [(model, prompt, completion, credits, status)] = settled_rows(local_server, account_id, 1)
    local = local_server.settings.local
    assert (model, status) == (LOCAL_CHAT_MODEL_ID, "ok")
    assert 0 < completion <= limit["output"]
    assert credits == Price(local.input_price_per_mtok, local.output_price_per_mtok).cost(prompt, completion)
    assert local_server.balance(account_id) == CREDITS - credits


@pytest.mark.model
def test_opencodes_own_prompt_is_too_long_for_the_embedded_model(local_server: Server) -> None:
    """opencode's default agent sends its 12 KB system prompt and 21 KB of tools
    (``opencode_first_request.json``): about 8,000 tokens, which the embedded model's
    4,096-token context cannot hold. The gateway says so, clearly and for free, before the model
    runs. (opencode 1.18.33 takes that answer for an overflow it can compact away and asks again,
    endlessly, so it is sent here without the agent.)"""
    key, account_id = local_server.new_key(credits=CREDITS)
    body = {**fixture_json("agents/opencode_first_request.json")["body"], "model": LOCAL_CHAT_MODEL_ID}
    with httpx2.Client(timeout=60) as http:
        r = http.post(f"{local_server.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})

    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (error["code"], error["param"]) == ("context_length_exceeded", "messages")
    assert f"maximum context length is {local_server.settings.local.n_ctx} tokens" in error["message"]
    assert local_server.balance(account_id) == CREDITS
