# The two set-up commands of the README. Both install into .venv first.
.PHONY: serve test check bench bench-media bench-jobs

serve:
	@./scripts/install.sh
	.venv/bin/unigate serve

test:
	@./scripts/install.sh dev
	@$(MAKE) --no-print-directory check

# Lint, types and the whole suite. UNIGATE_REQUIRE_SERVICES=1 makes the PostgreSQL/Redis tests
# fail instead of skip when the services are missing.
check:
	.venv/bin/ruff check src tests bench build_backend
	.venv/bin/ruff format --check src tests bench build_backend
	.venv/bin/mypy
	UNIGATE_REQUIRE_SERVICES=1 .venv/bin/python -m pytest

# The speed targets in one run (bench/speed.py; needs PostgreSQL, Redis, wrk and the shared harness
# in ../shared/bench; LiteLLM from .venv-litellm when present). About 12 minutes. Then the media
# lines: the embedded speech models' real-time factors beside the libraries called directly, and
# the gateway's added latency on an image request (about 2 minutes): `make bench-media` alone.
bench: ; .venv/bin/python bench/speed.py && $(MAKE) --no-print-directory bench-media bench-jobs
bench-media:
	.venv/bin/python bench/speech.py
	.venv/bin/python bench/images.py
	.venv/bin/python bench/tracing.py
# 1,000 generation jobs in flight for a minute on SQLite and PostgreSQL: polls and store calls per
# minute, and the drain (about 3 minutes).
bench-jobs: ; .venv/bin/python bench/jobs.py
