"""Alibaba Cloud Model Studio's native DashScope API for images: ``request.py`` builds the bodies
of both its protocols (tasks and multimodal generation), ``images.py`` sends them and polls the
tasks, ``errors.py`` reads its error bodies and failed tasks."""

from unigate.providers.dashscope.errors import parse_error, task_failure
from unigate.providers.dashscope.images import POLICY, DashScopeImages, native_origin
from unigate.providers.dashscope.request import is_task, size_param, sync_body, task_body

__all__ = [
    "POLICY",
    "DashScopeImages",
    "is_task",
    "native_origin",
    "parse_error",
    "size_param",
    "sync_body",
    "task_body",
    "task_failure",
]
