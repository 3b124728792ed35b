"""`flask --app feedsvc …` as an operator uses it: first start, users, rebuilds, refusals."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import delete, func, inspect, select

from devtools.procs import service_env
from feedsvc.settings import PROJECT_ROOT
from feedsvc.storage import migrate
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import FeedDocument, User
from tests.support.app import EDITOR, unmigrated_app
from tests.support.env import SUBPROCESS_TIMEOUT
from tests.support.factories import STORY, make_article, make_section
from tests.support.forms import submit

GENERATED = re.compile(r"Created the user 'admin' with the password:\s+(\S+)")
REBUILT = re.compile(
    r"Rendered (\d+) section\(s\)( and the site-wide feeds)?; (\d+) document\(s\) changed in "
    r"\d+\.\d\d s\."
)
NO_SCHEMA = (
    f"Error: The database has no schema yet; this code needs revision {migrate.head()}. "
    f"Run: {migrate.UPGRADE_HINT}"
)


def run_flask(
    database_url: str, *args: str, stdin_text: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`flask --app feedsvc ARGS` in a real process, as typed in a shell in the project folder."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "feedsvc", *args],
        cwd=PROJECT_ROOT,
        env=service_env(database_url, **env),
        input=stdin_text,
        capture_output=True,
        encoding="utf-8",
        timeout=SUBPROCESS_TIMEOUT,
    )


def invoke(app: Flask, *args: str, stdin_text: str | None = None) -> Result:
    return app.test_cli_runner().invoke(args=list(args), input=stdin_text)


def assert_clean_failure(result: Result, sentence: str) -> None:
    """Exit status 1 with `Error: <sentence>`: a ClickException, not a crash."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"Error: {sentence}" in result.output


def logs_in(app: Flask, username: str, password: str) -> bool:
    client = app.test_client()
    response = submit(client, "/admin/login", {"Username": username, "Password": password})
    return response.status_code == 302 and client.get("/admin/").status_code == 200


def usernames(app: Flask) -> list[str]:
    with transaction(app, write=False) as s:
        return list(s.scalars(select(User.username).order_by(User.id)))


def instance_of(app: Flask) -> Path:
    return Path(app.extensions["feedsvc.settings"]["INSTANCE_PATH"])


def table_names(app: Flask) -> list[str]:
    return inspect(database(app).engine).get_table_names()


# --- init-db ------------------------------------------------------------------------------


def test_init_db_with_admin_password_creates_schema_and_admin(
    empty_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDSVC_ADMIN_PASSWORD", "chosen by the operator")
    result = invoke(empty_app, "init-db")
    assert result.exit_code == 0, result.output
    assert "Database ready." in result.output
    assert "chosen by the operator" not in result.output
    assert "with the password" not in result.output
    assert migrate.current(database(empty_app).engine) == migrate.head()
    assert usernames(empty_app) == ["admin"]
    assert logs_in(empty_app, "admin", "chosen by the operator")
    assert not logs_in(empty_app, "admin", "something else")


def test_init_db_on_a_terminal_prints_a_generated_password_exactly_once(
    empty_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEEDSVC_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("feedsvc.firstadmin._stdout_is_terminal", lambda: True)
    first = invoke(empty_app, "init-db")
    assert first.exit_code == 0, first.output
    found = GENERATED.findall(first.output)
    assert len(found) == 1, first.output
    password = found[0]
    assert len(password) >= 12
    assert first.output.count(password) == 1
    assert logs_in(empty_app, "admin", password)
    assert not (instance_of(empty_app) / "admin-password.txt").exists()

    second = invoke(empty_app, "init-db")
    assert second.exit_code == 0, second.output
    assert "Database ready." in second.output
    assert "password" not in second.output
    assert password not in second.output
    assert usernames(empty_app) == ["admin"]
    assert logs_in(empty_app, "admin", password)


def test_init_db_adds_no_admin_when_editors_exist(app: Flask) -> None:
    result = invoke(app, "init-db")
    assert result.exit_code == 0, result.output
    assert "password" not in result.output
    assert usernames(app) == [EDITOR[0]]


@pytest.mark.slow
def test_init_db_in_a_real_process_then_admin_logs_in(database_url: str, tmp_path: Path) -> None:
    done = run_flask(database_url, "init-db", FEEDSVC_ADMIN_PASSWORD="from the environment")
    assert done.returncode == 0, done.stderr
    assert "Database ready." in done.stdout
    assert "from the environment" not in done.stdout + done.stderr
    app = unmigrated_app(database_url, tmp_path)
    try:
        assert logs_in(app, "admin", "from the environment")
    finally:
        database(app).dispose()


@pytest.mark.slow
def test_init_db_with_too_short_admin_password_is_a_sentence(
    database_url: str, tmp_path: Path
) -> None:
    done = run_flask(database_url, "init-db", FEEDSVC_ADMIN_PASSWORD="short")
    assert done.returncode != 0
    assert (
        "Error: FEEDSVC_ADMIN_PASSWORD cannot be used. The password must be at least 8 characters."
    ) in done.stderr
    assert "Traceback" not in done.stderr
    assert "Database ready." not in done.stdout
    app = unmigrated_app(database_url, tmp_path)
    try:
        assert usernames(app) == []
    finally:
        database(app).dispose()


# --- create-user --------------------------------------------------------------------------


def test_create_user_on_a_terminal_asks_twice_and_user_can_log_in(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("feedsvc.cli._stdin_is_terminal", lambda: True)
    result = invoke(app, "create-user", "ana.lopez", stdin_text="a long passphrase\n" * 2)
    assert result.exit_code == 0, result.output
    assert "Password for the new user" in result.output
    assert "Repeat the password" in result.output
    assert "User 'ana.lopez' created (editor)." in result.output
    assert "a long passphrase" not in result.output  # the prompt hides what is typed
    assert usernames(app) == [EDITOR[0], "ana.lopez"]
    assert logs_in(app, "ana.lopez", "a long passphrase")


def test_create_user_on_a_terminal_confirmation_must_match(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("feedsvc.cli._stdin_is_terminal", lambda: True)
    result = invoke(app, "create-user", "ana", stdin_text="a long passphrase\nanother one\n")
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert usernames(app) == [EDITOR[0]]


@pytest.mark.parametrize(
    ("name", "password", "sentence"),
    [
        ("EDITOR", "a long passphrase", "The username “EDITOR” is taken."),
        ("ana", "short", "The password must be at least 8 characters."),
        ("ana lopez", "a long passphrase", "A username is 1 to 64 letters"),
    ],
)
def test_create_user_refusal_is_a_sentence(
    app: Flask, name: str, password: str, sentence: str
) -> None:
    result = invoke(app, "create-user", name, stdin_text=f"{password}\n{password}\n")
    assert_clean_failure(result, sentence)
    assert "created" not in result.output
    assert usernames(app) == [EDITOR[0]]


@pytest.mark.slow
def test_create_user_taken_name_in_a_real_process(app: Flask, database_url: str) -> None:
    done = run_flask(database_url, "create-user", "Editor", stdin_text="short\nshort\n")
    assert done.returncode == 1
    assert "Error: The username “Editor” is taken. " in done.stderr
    assert "The password must be at least 8 characters." in done.stderr
    assert "Traceback" not in done.stderr
    assert usernames(app) == [EDITOR[0]]


# --- rebuild-feeds ------------------------------------------------------------------------


def add_story(app: Flask, section: str, title: str) -> None:
    make_article(app, make_section(app, section), title, body=STORY)


def rebuilt(result: Result) -> tuple[int, bool, int]:
    """(sections rendered, site feeds rendered, documents changed) from the printed line."""
    assert result.exit_code == 0, result.output
    match = REBUILT.search(result.output)
    assert match, result.output
    return int(match[1]), bool(match[2]), int(match[3])


def document_paths(app: Flask) -> set[str]:
    with transaction(app, write=False) as s:
        return set(s.scalars(select(FeedDocument.path)))


def test_rebuild_feeds_renders_changed_sections_and_site(app: Flask) -> None:
    add_story(app, "World News", "Council keeps fares")
    add_story(app, "Sport", "Rovers win the cup")
    section_docs = {
        f"sections/{slug}/{name}"
        for slug in ("world-news", "sport")
        for name in ("rss.xml", "atom.xml", "feed.json")
    }
    site_docs = {"rss.xml", "atom.xml", "feed.json", "opml.xml"}

    assert rebuilt(invoke(app, "rebuild-feeds")) == (2, True, len(section_docs | site_docs))
    assert document_paths(app) == section_docs | site_docs
    client = app.test_client()
    for path, title in [
        ("/sections/world-news/rss.xml", "Council keeps fares"),
        ("/sections/sport/atom.xml", "Rovers win the cup"),
        ("/feed.json", "Rovers win the cup"),
        ("/atom.xml", "Council keeps fares"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert title in response.get_data(as_text=True), path
    assert "Council keeps fares" not in client.get("/sections/sport/rss.xml").get_data(True)

    # Nothing changed since: the pass finds nothing to do.
    assert rebuilt(invoke(app, "rebuild-feeds")) == (0, False, 0)


def test_rebuild_feeds_all_rerenders_unchanged_sections(app: Flask) -> None:
    add_story(app, "World News", "Council keeps fares")
    rebuilt(invoke(app, "rebuild-feeds"))
    # A restored backup lost a document although the section did not change.
    with transaction(app) as s:
        s.execute(delete(FeedDocument).where(FeedDocument.path == "sections/world-news/atom.xml"))
    client = app.test_client()
    assert client.get("/sections/world-news/atom.xml").status_code == 503  # "try again"

    assert rebuilt(invoke(app, "rebuild-feeds")) == (0, False, 0)
    assert client.get("/sections/world-news/atom.xml").status_code == 503

    assert rebuilt(invoke(app, "rebuild-feeds", "--all")) == (1, True, 1)
    response = client.get("/sections/world-news/atom.xml")
    assert response.status_code == 200
    assert "Council keeps fares" in response.get_data(as_text=True)


def test_rebuild_feeds_on_empty_site_renders_site_feeds(app: Flask) -> None:
    assert rebuilt(invoke(app, "rebuild-feeds")) == (0, True, 4)
    assert app.test_client().get("/rss.xml").status_code == 200


# --- refusing an un-migrated database -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdin_text"),
    [
        (("create-user", "ana"), "a long passphrase\n" * 2),
        (("rebuild-feeds",), None),
        (("rebuild-feeds", "--all"), None),
    ],
)
def test_commands_refuse_an_unmigrated_database(
    empty_app: Flask, args: tuple[str, ...], stdin_text: str | None
) -> None:
    result = invoke(empty_app, *args, stdin_text=stdin_text)
    assert_clean_failure(result, NO_SCHEMA.removeprefix("Error: "))
    assert table_names(empty_app) == []  # refused before touching anything


@pytest.mark.slow
def test_refusal_in_a_real_process_names_the_upgrade_command(database_url: str) -> None:
    done = run_flask(database_url, "rebuild-feeds")
    assert done.returncode == 1
    assert NO_SCHEMA in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_scheduler_refuses_an_unmigrated_database(database_url: str) -> None:
    # A real process with a timeout: a scheduler that did start would run until killed.
    done = run_flask(database_url, "run-scheduler")
    assert done.returncode == 1
    assert NO_SCHEMA in done.stderr
    assert "Traceback" not in done.stderr


# --- db current / db upgrade --------------------------------------------------------------


def test_db_current_and_upgrade_show_revisions(empty_app: Flask) -> None:
    head = migrate.head()
    before = invoke(empty_app, "db", "current")
    assert before.exit_code == 0, before.output
    assert f"database: no schema; code: {head}" in before.output

    upgrade = invoke(empty_app, "db", "upgrade")
    assert upgrade.exit_code == 0, upgrade.output
    assert f"Database schema at revision {head}." in upgrade.output

    after = invoke(empty_app, "db", "current")
    assert f"database: {head}; code: {head}" in after.output
    assert "users" in table_names(empty_app)


@pytest.mark.slow
def test_db_current_in_a_real_process(app: Flask, database_url: str) -> None:
    done = run_flask(database_url, "db", "current")
    assert done.returncode == 0, done.stderr
    head = migrate.head()
    assert f"database: {head}; code: {head}" in done.stdout


def test_db_upgrade_twice_is_harmless(app: Flask) -> None:
    result = invoke(app, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert usernames(app) == [EDITOR[0]]
    with transaction(app, write=False) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1
