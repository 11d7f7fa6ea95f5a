"""Save a screenshot of each page of the web console.

Starts a gateway on a free loopback port (temporary SQLite database, the deterministic fake
model; ``--local`` adds the embedded SmolLM2 model for the Playground), makes a few requests so
that the usage pages have something to show, then drives Debian's Chromium with Playwright: sign
in, the Playground with a streamed answer, Keys, a newly created key, Usage and Models. PNGs go to
``docs/screenshots/`` unless ``--out`` says otherwise::

    .venv/bin/python scripts/console_screenshots.py [--out DIR] [--local]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
from dataclasses import replace
from pathlib import Path

import aiohttp
from aiohttp import web
from playwright.async_api import Page, async_playwright

from unigate.api.context import STORE
from unigate.app import create_app
from unigate.catalog.builtin import FAKE_MODEL_ID, LOCAL_CHAT_MODEL_ID
from unigate.settings import LocalModelSettings, Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROMPTS = [
    "The quick brown fox jumps over the lazy dog",
    "Summarise the plot of a detective story in one line",
    "List three prime numbers",
    "FAIL",
    "Write a haiku about gateways and credits",
]


async def _traffic(url: str, key: str, model: str) -> None:
    """A few real requests, one of them failing, for the usage charts and tables."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
        for i, prompt in enumerate(PROMPTS):
            body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": 32}
            if i % 2:
                body["stream"] = True
            async with http.post(f"{url}/v1/chat/completions", json=body) as response:
                await response.read()


async def _shoot(page: Page, out: Path, name: str, *, full: bool = False) -> None:
    path = out / f"console-{name}.png"
    await page.screenshot(path=str(path), full_page=full)
    print(f"saved {path}")


async def run(out: Path, *, local: bool) -> None:
    management_key = "mk-" + secrets.token_hex(24)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            local=LocalModelSettings(enabled=local, n_ctx=2048),
            fake_models=True,
            fake_token_delay_s=0.01,  # a few milliseconds a token, so that latencies are not all zero
            management_key=management_key,
        )
        settings = replace(settings, embeddings=replace(settings.embeddings, enabled=False))
        app = create_app(settings)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        model = LOCAL_CHAT_MODEL_ID if local else FAKE_MODEL_ID
        try:
            store = app[STORE]
            account = await store.create_account(name="demo", credits=20_000_000)
            _, key = await store.create_key(account_id=account, name="demo")
            await _traffic(url, key, FAKE_MODEL_ID)
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = await browser.new_page(viewport={"width": 1280, "height": 820})
                await page.goto(f"{url}/console/login")
                await _shoot(page, out, "login")
                await page.fill("#key", management_key)
                await page.click("button[type=submit]")
                await page.wait_for_url("**/console/playground")
                await page.select_option("#model", model)
                await page.fill("#system", "You are a concise assistant.")
                await page.fill("#prompt", "Tell me about San Francisco in one sentence")
                await page.click("#send")
                await page.wait_for_selector(".msg.assistant[data-credits]", timeout=120_000)
                await _shoot(page, out, "playground")
                await page.goto(f"{url}/console/keys")
                await _shoot(page, out, "keys", full=True)
                await page.fill("#new-name", "ci")
                await page.fill("#new-credits", "5")
                await page.click("#create-key button[type=submit]")
                await page.wait_for_selector("#new-key")
                await _shoot(page, out, "key-created")
                await page.goto(f"{url}/console/usage")
                await _shoot(page, out, "usage", full=True)
                await page.goto(f"{url}/console/models")
                await _shoot(page, out, "models")
                await browser.close()
        finally:
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "screenshots")
    parser.add_argument("--local", action="store_true", help="also serve the embedded SmolLM2 model and use it")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args.out, local=args.local))


if __name__ == "__main__":
    main()
