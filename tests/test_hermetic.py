"""The suite itself: the caller's FEEDSVC_* variables and the checkout's instance stay out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from devtools.procs import service_env
from feedsvc import create_app
from feedsvc.settings import PROJECT_ROOT
from feedsvc.storage.db import database
from tests.support.app import make_app
from tests.support.env import SUBPROCESS_TIMEOUT

# Run by a pytest of its own, started with the caller's variables below; the fixtures are
# this suite's (tests/conftest.py, loaded as a plugin).
INNER_TEST = """
import os

from feedsvc.publishing.passes import run_pass
from tests.support.factories import make_article, make_section


def test_the_callers_settings_do_not_reach_the_app(app):
    assert [name for name in os.environ if name.startswith("FEEDSVC_")] == []
    assert app.config["EXPORT_DIR"] == ""
    assert app.config["SITE_NAME"] == "feedsvc"
    make_article(app, make_section(app), "Exported?")
    assert not run_pass(app).failures
"""


@pytest.mark.slow
def test_feedsvc_variables_of_the_caller_do_not_reach_a_test(tmp_path: Path) -> None:
    leak = tmp_path / "developer-export"
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "test_inner.py").write_text(INNER_TEST, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        # What a developer's shell may well hold while running `make test`.
        "FEEDSVC_EXPORT_DIR": str(leak),
        "FEEDSVC_SITE_NAME": "Leaked",
        "FEEDSVC_LOG_FORMAT": "json",
    }
    config = ["-c", str(PROJECT_ROOT / "pyproject.toml"), "--rootdir", str(inner)]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", *config, str(inner)],
        cwd=inner,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout, done.stdout
    assert not leak.exists()  # nothing was exported into the developer's folder


def test_each_test_has_its_own_instance_folder(
    app: Flask, instance: Path, tmp_path: Path, database_url: str
) -> None:
    assert instance == tmp_path / "instance"
    assert app.extensions["feedsvc.settings"]["INSTANCE_PATH"] == str(instance)
    # The settings really come from there: a config.toml in it is read.
    instance.mkdir(exist_ok=True)
    (instance / "config.toml").write_text('SITE_NAME = "From the test"\n', encoding="utf-8")
    again = make_app(database_url, tmp_path)
    try:
        assert again.config["SITE_NAME"] == "From the test"
    finally:
        database(again).dispose()


def test_reading_the_checkouts_instance_folder_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="the checkout's instance folder"):
        create_app({"TESTING": True, "SECRET_KEY": "a-test-secret-key-of-enough-length"})


# A child process finds its instance folder in the checkout; here the "checkout" is a folder
# of the test's own, holding a developer's config.toml.
CHILD = """
import json, sys
from pathlib import Path
from feedsvc import create_app, settings

settings.PROJECT_ROOT = Path(sys.argv[1])
app = create_app()
print(json.dumps({k: app.config[k] for k in ("EXPORT_DIR", "SITE_NAME", "LOG_FORMAT")}))
"""


@pytest.mark.slow
def test_a_checkout_instance_config_does_not_reach_a_child_process(
    tmp_path: Path, database_url: str
) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "instance").mkdir(parents=True)
    (checkout / "instance" / "config.toml").write_text(
        f'EXPORT_DIR = "{tmp_path / "developer-export"}"\n'
        'SITE_NAME = "Developer"\nLOG_FORMAT = "json"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(checkout)],
        cwd=PROJECT_ROOT,
        env=service_env(database_url),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen == {"EXPORT_DIR": "", "SITE_NAME": "feedsvc", "LOG_FORMAT": "text"}
