"""``GET /openapi.json`` (OpenAPI 3.1) and ``GET /docs``, the reference page that renders it.

The document is built from the live router (``document.py``), so a route without a description in
``operations.py`` fails the build and its test; request bodies are the JSON schemas of the very
pydantic models the handlers validate with (``schemas.py``).
"""
