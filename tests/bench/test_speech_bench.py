"""``bench/speech.py``'s arithmetic: medians per path, the real-time factor, and the gateway's
speed as a fraction of the direct call's, graded against the issue's 0.9. (The measurement itself
needs the models and a running gateway: ``.venv/bin/python bench/speech.py``.)"""

from __future__ import annotations

from bench.speech import _row, render, wav_seconds

from unigate.providers.audio.encode import wav_header


def test_rows_take_the_median_of_each_measure() -> None:
    row = _row("tts", "gateway", [(10.0, 2.0, 0.5), (10.0, 3.0, 0.7), (20.0, 2.0, 0.6)])
    assert (row.runs, row.audio_s, row.seconds, row.first_audio_s) == (3, 10.0, 2.0, 0.6)
    assert row.rtf == 0.2  # the median of 0.2, 0.3 and 0.1


def test_the_table_grades_the_gateway_against_direct() -> None:
    rows = [
        _row("tts", "direct", [(10.0, 2.0, 0.5)]),
        _row("tts", "gateway", [(10.0, 2.1, 0.6)]),
        _row("stt", "direct", [(60.0, 6.0, None)]),
        _row("stt", "gateway", [(60.0, 9.0, None)]),
    ]
    table = render(rows)
    assert "text to speech gateway" in table
    lines = {line.split("  ")[0]: line for line in table.splitlines()}
    assert lines["text to speech gateway"].endswith("0.95 met")
    assert lines["speech to text gateway"].endswith("0.67 NOT MET")


def test_a_streamed_wav_is_measured_by_its_bytes() -> None:
    assert wav_seconds(wav_header(22_050) + b"\0\0" * 22_050 * 3) == 3.0
