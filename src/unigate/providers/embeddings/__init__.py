"""The embedded all-MiniLM-L6-v2 embedding model: ``minilm.py``, the NumPy model; ``local.py``,
its worker and queue (registered as ``local-embeddings`` in ``providers/registry.py``)."""
