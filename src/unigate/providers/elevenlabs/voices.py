"""The service's ElevenLabs voice names and ElevenLabs' ids for them.

The service names a voice (``Rachel``); ElevenLabs' API takes the voice's id in the URL. The ids of
50 names are in ElevenLabs' "Default Voices" page (elevenlabs/elevenlabs-docs,
fern/docs/pages/product-guides/voices/default-voices.mdx: current and legacy voices; ``George`` is
the current default voice, not the legacy one of the same name). ``Domi``, ``Elli`` and
``Santa Claus`` are older premade voices that page no longer lists; their ids are those that
``GET /v1/voices`` answers for them (premade, in every account).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DEFAULT_VOICE", "VOICE_IDS", "voice_id"]

VOICE_IDS: Mapping[str, str] = {
    # Current default voices.
    "Alice": "Xb7hH8MSUJpSbSDYk0k2",
    "Aria": "9BWtsMINqrJLrRacOk9x",
    "Bill": "pqHfZKP75CvOlQylNhV4",
    "Brian": "nPczCjzI2devNBz1zQrb",
    "Callum": "N2lVS1w4EtoT3dr4eOWO",
    "Charlie": "IKne3meq5aSn9XLyUdCD",
    "Charlotte": "XB0fDUnXU5powFXDhCwa",
    "Chris": "iP95p4xoKVk53GoZ742B",
    "Daniel": "onwK4e9ZLuTAKqWW03F9",
    "Eric": "cjVigY5qzO86Huf0OWal",
    "George": "JBFqnCBsd6RMkjVDRZzb",
    "Jessica": "cgSgspJ2msm6clMCkdW9",
    "Laura": "FGY2WhTYpPnrIDTdsKH5",
    "Liam": "TX3LPaxmHKxFdv7VOQHJ",
    "Lily": "pFZP5JQG7iQjIQuC4Bku",
    "Matilda": "XrExE9yKIg1WjnnlVkGX",
    "River": "SAz9YHcvj6GT2YYXdXww",
    "Roger": "CwhRBWXzGAHq8TQ4Fs17",
    "Sarah": "EXAVITQu4vr4xnSDxMaL",
    "Will": "bIHbv24MWmeRgasZH58o",
    # Legacy voices.
    "Adam": "pNInz6obpgDQGcFmaJgB",
    "Antoni": "ErXwobaYiN019PkySvjV",
    "Arnold": "VR6AewLTigWG4xSOukaG",
    "Clyde": "2EiwWnXFnvU5JabPnv8n",
    "Dave": "CYw3kZ02Hs0563khs1Fj",
    "Dorothy": "ThT5KcBeYPX3keUQqHPh",
    "Drew": "29vD33N1CtxCmqQRPOHJ",
    "Emily": "LcfcDJNUP1GQjkzn1xUU",
    "Ethan": "g5CIjZEefAph4nQFvHAz",
    "Fin": "D38z5RcWu1voky8WS1ja",
    "Freya": "jsCqWAovK2LkecY7zXl4",
    "Gigi": "jBpfuIE2acCO8z3wKNLl",
    "Giovanni": "zcAOhNBS3c14rBihAFp1",
    "Glinda": "z9fAnlkpzviPz146aGWa",
    "Grace": "oWAxZDx7w5VEj9dCyTzz",
    "Harry": "SOYHLrjzK2X1ezoPC6cr",
    "James": "ZQe5CZNOzWyzPSCn5a3c",
    "Jeremy": "bVMeCyTHy58xNoL34h3p",
    "Jessie": "t0jbNlBVZ17f02VDIeMI",
    "Joseph": "Zlb1dXrM653N07WRdFW3",
    "Josh": "TxGEqnHWrfWFTfGW9XjX",
    "Michael": "flq6f7yk4E4fJM5XTYuZ",
    "Mimi": "zrHiDhphv9ZnVXBqCLjz",
    "Nicole": "piTKgcLEGmPE4e6mEKli",
    "Patrick": "ODq5zmih8GrVes37Dizd",
    "Paul": "5Q0t7uMcjvnagumLfvZi",
    "Rachel": "21m00Tcm4TlvDq8ikWAM",
    "Sam": "yoZ06aMxZJJ28mfd3POQ",
    "Serena": "pMsXgVXv3BLzUgSXRplE",
    "Thomas": "GBv7mTt0atIp3Br8iCZE",
    # Premade voices the default-voices page no longer lists.
    "Domi": "AZnzlk1XvdvUeBnXmlld",
    "Elli": "MF3mGyEYCl7XYWbV9V6O",
    "Santa Claus": "knrPHWnBmmDHMoiMeP3l",
}

DEFAULT_VOICE = "Rachel"
"""The reference's default voice for the ElevenLabs models."""

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def voice_id(voice: str | None) -> str | None:
    """The ElevenLabs id of a voice name (case-insensitive), an ElevenLabs voice id as it is
    (20 letters and digits: a cloned or library voice), else ``None``."""
    name = voice or DEFAULT_VOICE
    for known, vid in VOICE_IDS.items():
        if known.lower() == name.lower():
            return vid
    if len(name) == 20 and set(name) <= _ID_CHARS:
        return name
    return None
