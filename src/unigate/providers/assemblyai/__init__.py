"""AssemblyAI: pre-recorded speech to text (Universal, Slam-1), uploaded, queued and polled."""

from unigate.providers.assemblyai.transcriber import AssemblyAITranscriber, PollPolicy

__all__ = ["AssemblyAITranscriber", "PollPolicy"]
