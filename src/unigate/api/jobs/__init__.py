"""The generation-job endpoints: video (``/v2/video/generations``, the legacy vendor paths and
OpenAI's ``/v1/videos``), music (``/v2/generate/audio``) and 3D (``/v2/generate/3d`` and
``/v1/images/generations``), over ``core/job_flow.py``."""
