"""Embedding providers: the ``Embedder`` capability and how to find it behind a provider
(``base.py``), and the embedded all-MiniLM-L6-v2 (``minilm.py``, the NumPy model; ``local.py``,
its worker and queue)."""
