"""The crash and load soaks, short: SIGKILLed schedulers lose nothing, readers see no error.

`make soak` runs the long versions (50 kills; 200 readers while 100 articles are posted) and
prints the figures; these runs are small enough for every `make test`, on each database.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from devtools import procs
from devtools.soak import checks, crash, load, stack
from feedsvc.articles import ArticleInput, create_article
from feedsvc.storage.db import database, transaction
from tests.support.published import publish

pytestmark = pytest.mark.slow

# Read at import, before the autouse fixture clears FEEDSVC_* for each test.
PG_URL = os.environ.get("FEEDSVC_TEST_DATABASE_URL", "")


def _engine(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def test_ci_runs_the_soak_on_postgresql() -> None:
    """Under CI the PostgreSQL variants below must run, never be left out."""
    if os.environ.get("CI") == "true":
        assert PG_URL, "CI=true but FEEDSVC_TEST_DATABASE_URL is not set: no PostgreSQL soak"


def test_scheduler_killed_at_random_loses_nothing(database_url: str, tmp_path: Path) -> None:
    seed = random.randrange(1_000_000)
    site = stack.prepare(database_url, _engine(database_url), tmp_path, 3, 10, 30)
    try:
        r = crash.run(site, tmp_path, passes=5, seed=seed, max_delay=1.5, say=None)
    finally:
        database(site.app).dispose()
    assert r.passes == 5 and r.kills >= 5, f"seed {seed}"
    assert r.acknowledged > 20, f"seed {seed}: only {r.acknowledged} posts acknowledged"
    assert r.post_failures == [], f"seed {seed}"
    # Each acknowledged article a row and in its feeds; every feed valid, every file whole.
    assert r.problems == [], f"seed {seed}"


def test_readers_see_no_error_while_editors_post(database_url: str, tmp_path: Path) -> None:
    seed = random.randrange(1_000_000)
    site = stack.prepare(database_url, _engine(database_url), tmp_path, 4, 20, 50)
    try:
        r = load.run(site, tmp_path, readers_count=30, articles=10, seed=seed, background=30)
    finally:
        database(site.app).dispose()
    assert r.errors == [], f"seed {seed}"
    assert r.acknowledged == 10 and r.unseen == [], f"seed {seed}"
    # Readers got full feeds and 304s, plain and gzip, and each article within seconds.
    assert r.statuses[200] > 0 and r.statuses[304] > 0 and r.gzip > 0
    assert set(r.statuses) <= {200, 304}
    assert max(r.freshness) < 10, r.freshness


def test_the_checks_catch_a_missing_article_and_a_partial_file(
    database_url: str, tmp_path: Path
) -> None:
    """The soaks' verdicts can fail: an unpublished article and a truncated file are found."""
    site = stack.prepare(database_url, _engine(database_url), tmp_path, 1, 5, 5)
    export = tmp_path / "export"
    app = site.app
    app.config["EXPORT_DIR"] = str(export)
    try:
        publish(app)
        port = procs.free_port()
        env = {"FEEDSVC_POLL_MIN_INTERVAL": "0", "WEB_CONCURRENCY": "1"}
        web = stack.web(site, port, tmp_path / "web.log", env)
        with procs.serving(web, port, "/healthz"):
            assert checks.verify_site(site, port, export, []) == []
            with transaction(app) as s:
                data = ArticleInput(
                    title="Not yet published", section_id=site.sections[0].id, body="Text."
                )
                guid = create_article(s, data, base_url=procs.SITE_URL + "/").guid
            problems = checks.verify_site(site, port, export, [guid])
            assert len(problems) == 6 and all(guid in p and "missing" in p for p in problems)
            publish(app)
            procs.wait_for("the feeds", lambda: not checks.verify_site(site, port, export, [guid]))
    finally:
        database(app).dispose()
    atom = export / "atom.xml"
    atom.write_bytes(atom.read_bytes()[:-40])
    assert [p.split(":")[0] for p in checks.partial_exports(export)] == [
        "export atom.xml is partial"
    ]
