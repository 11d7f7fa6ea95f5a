"""The job endpoints' routes (``__init__.py`` lists them). ``/v1/images/generations`` is routed
here: a 3D model named there runs as a job (``three_d.py``), any other is an image request."""

from __future__ import annotations

from aiohttp import web

from unigate.api.context import GATEWAY
from unigate.api.jobs.minimax_legacy import minimax_generate, minimax_upload
from unigate.api.jobs.openai_videos import add_openai_video_routes
from unigate.api.jobs.service import create_music, create_video, get_music, get_video
from unigate.api.jobs.three_d import generate_3d, generate_3d_from
from unigate.api.media.images import image_generations
from unigate.api.requests import read_json
from unigate.errors import ModelNotFound

__all__ = ["add_job_routes"]


async def images_or_3d(request: web.Request) -> web.StreamResponse:
    if request.content_type == "application/json":
        body = await read_json(request)  # kept on the request: the image handler does not parse it again
        model = body.get("model") if isinstance(body, dict) else None
        if isinstance(model, str):
            try:
                spec = request.app[GATEWAY].catalog.resolve(model)
            except ModelNotFound:
                spec = None
            if spec is not None and spec.type == "3d":
                return await generate_3d_from(request, body)
    return await image_generations(request)


def add_job_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/v2/video/generations", create_video)
    router.add_get("/v2/video/generations", get_video)
    router.add_post("/v2/generate/video/{vendor}/generation", create_video)
    router.add_get("/v2/generate/video/{vendor}/generation", get_video)
    router.add_post("/v2/generate/audio", create_music)
    router.add_get("/v2/generate/audio", get_music)
    router.add_post("/v2/generate/audio/minimax/upload", minimax_upload)
    router.add_post("/v2/generate/audio/minimax/generate", minimax_generate)
    router.add_post("/v2/generate/3d", generate_3d)
    for prefix in ("/v1", ""):
        router.add_post(f"{prefix}/images/generations", images_or_3d)
    add_openai_video_routes(router)
