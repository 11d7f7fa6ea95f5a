"""Kling AI's video API: the runner (``runner.py``), its request bodies (``bodies.py``), its
token (``auth.py``) and its registration (``registration.py``)."""

from unigate.providers.kling.registration import KLING
from unigate.providers.kling.runner import KlingVideo

__all__ = ["KLING", "KlingVideo"]
