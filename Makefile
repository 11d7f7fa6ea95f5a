# The two set-up commands of the README. Both install into .venv first.
.PHONY: serve test check bench

serve:
	@./scripts/install.sh
	.venv/bin/unigate serve

test:
	@./scripts/install.sh dev
	@$(MAKE) --no-print-directory check

# Lint, types and the whole suite. UNIGATE_REQUIRE_SERVICES=1 makes the PostgreSQL/Redis tests
# fail instead of skip when the services are missing.
check:
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy
	UNIGATE_REQUIRE_SERVICES=1 .venv/bin/python -m pytest

# The speed targets in one run (bench/speed.py; needs PostgreSQL, Redis, wrk and the shared harness
# in ../shared/bench; LiteLLM from .venv-litellm when present). About 12 minutes.
bench: ; .venv/bin/python bench/speed.py
