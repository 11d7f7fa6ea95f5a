"""Launch ``unigate serve`` as a target of the shared gateway-overhead harness (``../shared/bench``).

The harness starts each target with one command and sends model ``mock`` with key ``sk-bench-1``.
This prepares a data folder and a settings file that route ``mock`` to the harness's mock upstream
through the real pipeline (key authentication, rate limit, credit reserve and settle, usage ledger),
creates the key with ample credit, then replaces itself with the server (it stays in the foreground).

    python bench/serve_target.py --port {port} --upstream {upstream} [--database-url URL] [--redis-url URL]
        [--redis-prefix P] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CONFIG = """\
[server]
host = "127.0.0.1"
port = {port}

[local]
enabled = false

# Every key is rate limited, as in production; high enough that the load never reaches the limit.
[limits]
default_rpm = 100000000
default_tpm = 1000000000000

[providers.mock]
kind = "openai"
base_url = "{upstream}"
api_key = "mock-upstream-key"

[models."mock"]
provider = "mock"
upstream_model = "mock"
input_price_per_mtok = 1000
output_price_per_mtok = 2000
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="the mock's base URL, e.g. http://127.0.0.1:8901/v1")
    ap.add_argument("--key", default="sk-bench-1")
    ap.add_argument("--database-url", default=None, help="postgresql://... (default: SQLite in a temp folder)")
    ap.add_argument("--redis-url", default=None)
    ap.add_argument("--redis-prefix", default=None, help="Redis key prefix (default: unigate's)")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()

    data = Path(tempfile.mkdtemp(prefix="unigate-bench-"))
    config = data / "unigate.toml"
    config.write_text(CONFIG.format(port=args.port, upstream=args.upstream))
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNIGATE_")}
    env |= {"UNIGATE_DATA_DIR": str(data), "UNIGATE_MANAGEMENT_KEY": "mk-bench", "UNIGATE_LOCAL_MODEL": "0"}
    if args.database_url:
        env["UNIGATE_DATABASE_URL"] = args.database_url
    if args.redis_url:
        env["UNIGATE_REDIS_URL"] = args.redis_url
    if args.redis_prefix:
        env["UNIGATE_REDIS_PREFIX"] = args.redis_prefix
    cli = [sys.executable, "-m", "unigate"]
    created = subprocess.run(
        [*cli, "keys", "create", "--key", args.key, "--credits", str(10**15), "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
    )
    if created.returncode != 0 and "exists already" not in created.stderr:
        sys.exit(f"could not create the bench key: {created.stderr.strip()}")
    serve = [*cli, "serve", "--config", str(config)]
    if args.workers != 1:
        serve += ["--workers", str(args.workers)]
    os.execve(sys.executable, serve, env)


if __name__ == "__main__":
    main()
