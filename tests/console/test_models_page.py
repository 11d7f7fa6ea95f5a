"""The Models page: the whole catalog, filtered by search, type, developer and availability."""

from __future__ import annotations

import re

from tests.console.conftest import Console


def _visible(html: str) -> list[str]:
    return re.findall(
        r'<tr data-search="[^"]*" data-type="[^"]*" data-developer="[^"]*" data-available="(?:yes|no)">\s*'
        r"<td><strong>[^<]*</strong><br><code>([^<]+)</code>",
        html,
    )


def test_the_catalog_and_its_filters(admin: Console) -> None:
    html = admin.http.get("/console/models").text
    everything = _visible(html)
    assert len(everything) > 500
    available = _visible(admin.http.get("/console/models?availability=available").text)
    # the fake models (the job ones too) and the embedded ones: each serves its own endpoint
    assert available == [
        "fake/3d",
        "fake/echo",
        "fake/image",
        "fake/music",
        "fake/ocr",
        "fake/speech",
        "fake/transcribe",
        "fake/video",
        "rhasspy/piper-en_US-joe-medium",
        "sentence-transformers/all-MiniLM-L6-v2",
        "Systran/faster-whisper-tiny.en",
    ]
    assert everything[: len(available)] == available  # available models first
    anthropic = _visible(admin.http.get("/console/models?developer=Anthropic").text)
    assert anthropic
    assert any("claude" in m for m in anthropic)
    assert not any("gpt" in m for m in anthropic)
    search = _visible(admin.http.get("/console/models?q=gemini-2.5").text)
    assert search
    assert all("gemini-2.5" in m for m in search)
    images = admin.http.get("/console/models?type=image").text
    assert 'data-type="chat-completion"' not in re.sub(r"<tr hidden[^>]*>", "", images).split('id="models-table"')[1]
    assert "per unit" in html or "$" in html


def test_unavailable_models_say_why(admin: Console) -> None:
    html = admin.http.get("/console/models?q=gpt-4o").text
    assert "not configured" in html
