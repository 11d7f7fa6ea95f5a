"""fal.ai's queue API: ``queue.py`` submits a request, asks its status and reads its answer;
``images.py`` and ``request.py`` generate images, ``speech.py`` speaks (VibeVoice), ``jobs.py`` and
``generation.py`` run video, music and 3D generation jobs."""

from unigate.providers.fal.images import FalImages
from unigate.providers.fal.jobs import FalJobs
from unigate.providers.fal.queue import POLICY, FalQueue, Queued
from unigate.providers.fal.request import INPUT_IMAGE_FIELDS, app_input, image_result
from unigate.providers.fal.speech import FalSpeaker

__all__ = [
    "INPUT_IMAGE_FIELDS",
    "POLICY",
    "FalImages",
    "FalJobs",
    "FalQueue",
    "FalSpeaker",
    "Queued",
    "app_input",
    "image_result",
]
