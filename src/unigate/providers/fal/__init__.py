"""fal.ai's queue API for images: ``request.py`` maps a request to an app's input and its answer
back, ``images.py`` submits it and polls the queue."""

from unigate.providers.fal.images import POLICY, FalImages
from unigate.providers.fal.request import INPUT_IMAGE_FIELDS, app_input, image_result

__all__ = ["INPUT_IMAGE_FIELDS", "POLICY", "FalImages", "app_input", "image_result"]
