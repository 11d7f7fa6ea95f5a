"""The registration of the deterministic fake models (``UNIGATE_FAKE_MODELS=1``): the chat model
(``fake.py``), the media models (``fake_media.py``) and the job models (``fake_jobs.py``), all
in this process, for tests and benchmarks."""

from __future__ import annotations

from unigate.catalog.builtin import fake_spec
from unigate.core.services import Capabilities, Modality
from unigate.providers.fake import FakeProvider
from unigate.providers.fake_jobs import FAKE_JOB_MODELS, FakeJobs
from unigate.providers.fake_media import FAKE_MEDIA_MODELS, FakeMedia
from unigate.providers.registration import CHAT, Registration, in_process

__all__ = ["FAKE"]

MEDIA = frozenset({Modality.IMAGES, Modality.SPEECH, Modality.TRANSCRIPTION, Modality.OCR})
JOBS = frozenset({Modality.VIDEO, Modality.MUSIC, Modality.THREE_D})


def _fake(delay: float) -> Capabilities:
    media = FakeMedia(chunk_delay_s=delay)
    return Capabilities(
        chat=FakeProvider(token_delay_s=delay),
        images=media,
        speech=media,
        transcription=media,
        ocr=media,
        video=FakeJobs(),
        music=FakeJobs(inline=True),
        three_d=FakeJobs(),
    )


FAKE: Registration[float] = in_process(
    "fake",
    "fake",
    CHAT | MEDIA | JOBS,
    lambda s: s.fake_token_delay_s if s.fake_models else None,
    _fake,
    lambda s: [fake_spec(), *FAKE_MEDIA_MODELS, *FAKE_JOB_MODELS],
)
