"""The media upstreams shaped like OpenAI's API: OpenAI itself (images, speech, transcription and
translation), xAI's and Together's image generation.

* ``images.py`` / ``audio.py``: OpenAI's requests and answers;
* ``answers.py``: the ``{"data": [{b64_json | url}]}`` answer the three share;
* ``options.py``: the service's fields an upstream has no counterpart for, refused with a 400;
* ``provider.py``, ``xai.py``, ``together.py``: the adapters, each over the ``Upstream`` of its
  deployment's chat adapter (``adapter.py``), with errors read by the OpenAI-compatible parser.
"""

from unigate.providers.openai_media.provider import OpenAIMedia, SpeechChunks
from unigate.providers.openai_media.together import TogetherImages
from unigate.providers.openai_media.xai import XaiImages

__all__ = ["OpenAIMedia", "SpeechChunks", "TogetherImages", "XaiImages"]
