"""The API against its own OpenAPI document, checked by an outside tool: Schemathesis
(every check; coverage, fuzzing and stateful phases) drives the app under real
gunicorn, with a real token and seeded data. Zero failures.

Three seeds by default (SCHEMATHESIS_SEEDS, comma-separated): each run draws other
data. SCHEMATHESIS_EXAMPLES sets examples per operation and phase (30 here by
default; .ci/run uses more), SCHEMATHESIS_MIN_CASES the fewest cases each run must
report.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from processes import Gunicorn, clean_env, flask

pytestmark = [pytest.mark.gunicorn, pytest.mark.contract]
CONFIG = Path(__file__).parents[2] / "schemathesis.toml"
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "30")
SEEDS = os.environ.get("SCHEMATHESIS_SEEDS", "1,2,3").split(",")
MIN_CASES = int(os.environ.get("SCHEMATHESIS_MIN_CASES", "300"))
# anyio >= 4.16 parses its own source into an AST on first import; Schemathesis
# imports it lazily from its worker threads, and CPython 3.11's AST constructor is
# not thread-safe ("AST constructor recursion depth mismatch", a flaky runtime
# error). Importing anyio first, on the main thread, takes the race away.
RUN_SCHEMATHESIS = "import anyio, schemathesis.cli; schemathesis.cli.schemathesis()"


@pytest.fixture(scope="module")
def served(make_database, tmp_path_factory):
    """gunicorn on a seeded scratch database, and an API token for it."""
    url = make_database()
    env = clean_env(DATABASE_URL=url, ACCESS_LOG="off", REQUEST_LOG="off")
    for args in (
        ("db", "upgrade"),
        ("seed", "--customers", "50", "--products", "20", "--orders", "200"),
    ):
        result = flask(*args, env=env)
        assert result.returncode == 0, result.stderr
    token = flask("api-token", "create", "schemathesis", env=env).stdout.strip().splitlines()[-1]
    log = tmp_path_factory.mktemp("contract") / "gunicorn.log"
    with Gunicorn(env | {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"}, log) as server:
        server.wait_ready()
        yield server, token


@pytest.mark.parametrize("seed", SEEDS)
def test_schemathesis_finds_no_failure(served, seed):
    server, token = served
    command = [
        sys.executable,
        "-c",
        RUN_SCHEMATHESIS,
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--seed",
        seed,
        "--max-examples",
        EXAMPLES,
        "--workers",
        "2",
        "--suppress-health-check",
        "too_slow",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd="/tmp")
    summary = result.stdout[-3000:]
    print(summary)
    assert result.returncode == 0, summary
    cases = re.search(r"(\d+) generated", result.stdout)
    assert cases and int(cases.group(1)) >= MIN_CASES, summary
    assert " failed" not in summary
