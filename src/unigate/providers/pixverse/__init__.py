"""PixVerse's platform API: video generation jobs from text, an image, two frames, and lip sync
(``jobs.py``; ``wire.py`` for its envelope and bodies)."""

from unigate.providers.pixverse.jobs import PixVerseJobs

__all__ = ["PixVerseJobs"]
