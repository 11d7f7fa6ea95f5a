"""fal.ai's queue API: ``queue.py`` runs one request through it; ``images.py`` and ``request.py``
generate images, ``speech.py`` speaks (VibeVoice)."""

from unigate.providers.fal.images import FalImages
from unigate.providers.fal.queue import POLICY, FalQueue
from unigate.providers.fal.request import INPUT_IMAGE_FIELDS, app_input, image_result
from unigate.providers.fal.speech import FalSpeaker

__all__ = ["INPUT_IMAGE_FIELDS", "POLICY", "FalImages", "FalQueue", "FalSpeaker", "app_input", "image_result"]
