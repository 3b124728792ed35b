"""API tokens as an operator handles them: create (shown once), list, revoke; hashes only."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import event, select, update

from feedsvc import limits
from feedsvc.errors import ValidationError
from feedsvc.storage.db import database, transaction
from feedsvc.storage.models import ApiToken, utcnow
from feedsvc.tokens import create_token, find_token

TOKEN = re.compile(r"\Afsv_[A-Za-z0-9_-]{43}\Z")


def make_token(runner: FlaskCliRunner, *args: str) -> str:
    result = runner.invoke(args=["create-token", *args])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()  # stdout is the token alone: `TOKEN=$(flask … create-token)`
    assert TOKEN.fullmatch(token), result.stdout
    assert "shown only this once" in result.stderr
    return token


def call(client: FlaskClient, token: str) -> int:
    return client.get("/api/v1/sections", headers={"Authorization": f"Bearer {token}"}).status_code


def the_row(app: Flask) -> ApiToken:
    with transaction(app, write=False) as s:
        return s.scalars(select(ApiToken)).one()


def listed(runner: FlaskCliRunner) -> dict[str, dict[str, str]]:
    """list-tokens' table: each row by its prefix, each cell by its column's heading."""
    result = runner.invoke(args=["list-tokens"])
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    columns = re.split(r"\s{2,}", header.strip())
    assert columns == [
        "prefix", "user", "scope", "created", "last used", "expires", "state", "name"
    ]  # fmt: skip
    table = [dict(zip(columns, re.split(r"\s{2,}", row.strip()), strict=True)) for row in rows]
    return {row["prefix"]: row for row in table}


def test_token_lifecycle_through_the_cli(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient
) -> None:
    listing = runner.invoke(args=["list-tokens"])
    assert listing.exit_code == 0 and "No API tokens" in listing.output

    token = make_token(runner, "editor", "--name", "Newsroom CMS")
    prefix = token[:12]
    row = listed(runner)[prefix]
    assert (row["user"], row["name"], row["scope"]) == ("editor", "Newsroom CMS", "read")
    assert (row["state"], row["last used"], row["expires"]) == ("active", "never", "never")
    assert token not in runner.invoke(args=["list-tokens"]).output

    assert call(client, token) == 200
    assert listed(runner)[prefix]["last used"] != "never"  # last use is recorded now

    result = runner.invoke(args=["revoke-token", prefix])
    assert result.exit_code == 0 and "revoked" in result.output
    assert call(client, token) == 401
    assert listed(runner)[prefix]["state"].startswith("revoked 20")
    again = runner.invoke(args=["revoke-token", prefix])
    assert again.exit_code == 0 and "already revoked" in again.output


def test_only_the_hash_is_stored(app: Flask, runner: FlaskCliRunner) -> None:
    token = make_token(runner, "editor")
    row = the_row(app)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[4:12]
    stored = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
    assert not any(token[4:] in value for value in stored)
    assert row.revoked_at is None and row.last_used_at is None and row.name == ""


def test_every_token_is_different_and_separately_revocable(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient
) -> None:
    first, second = make_token(runner, "editor"), make_token(runner, "EDITOR")
    assert first != second
    assert runner.invoke(args=["revoke-token", second[4:12]]).exit_code == 0  # prefix sans fsv_
    assert (call(client, first), call(client, second)) == (200, 401)
    assert runner.invoke(args=["revoke-token", first]).exit_code == 0  # or the whole token
    assert call(client, first) == 401


def test_a_bare_prefix_never_reads_as_an_option(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, monkeypatch: Any
) -> None:
    # base64url can start with "-"; `revoke-token -wRYPnM5` would then be an unknown option.
    draws = iter(["-" + "A" * 42, "B" * 43])
    monkeypatch.setattr("feedsvc.tokens.secrets.token_urlsafe", lambda n: next(draws))
    token = make_token(runner, "editor")
    assert not token[4:].startswith("-")
    assert runner.invoke(args=["revoke-token", token[4:12]]).exit_code == 0
    assert call(client, token) == 401


def test_cli_refusals_are_sentences(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["create-token", "nobody"])
    assert result.exit_code != 0 and "There is no user “nobody”." in result.output
    result = runner.invoke(args=["create-token", "editor", "--name", "n" * 121])
    assert result.exit_code != 0 and "120" in result.output
    result = runner.invoke(args=["revoke-token", "fsv_AAAAAAAA"])
    assert result.exit_code != 0 and "no token with the prefix fsv_AAAAAAAA" in result.output
    result = runner.invoke(args=["revoke-token", "nonsense!"])
    assert result.exit_code != 0 and "like fsv_" in result.output
    with transaction(app, write=False) as s:
        assert s.scalars(select(ApiToken)).all() == []


def test_a_mistyped_token_matches_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    token = make_token(runner, "editor")
    with transaction(app, write=False) as s:
        assert find_token(s, token) is not None
        flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert find_token(s, flipped) is None  # same prefix, wrong secret
        assert find_token(s, token + "x") is None
        assert find_token(s, token.upper() if token != token.upper() else token.lower()) is None
        assert find_token(s, "") is None


@contextmanager
def token_writes(app: Flask) -> Iterator[list[str]]:
    """Collect the UPDATE statements that touch api_tokens, on every connection."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            seen.append(statement)

    engine = database(app).engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_last_used_is_written_at_most_once_a_minute(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient
) -> None:
    token = make_token(runner, "editor", "--scope", "write")
    headers = {"Authorization": f"Bearer {token}"}
    with token_writes(app) as writes:
        for _ in range(5):
            assert client.get("/api/v1/sections", headers=headers).status_code == 200
        response = client.post("/api/v1/sections", json={"name": "World"}, headers=headers)
        assert response.status_code == 201
    assert len(writes) == 1
    first = the_row(app).last_used_at
    assert first is not None and utcnow() - first < timedelta(seconds=5)

    # 30 seconds ago: still fresh, no write. 61 seconds ago: written again, on any method.
    for age, method, expect_write in [(30, "GET", False), (61, "GET", True), (61, "POST", True)]:
        stamped = utcnow() - timedelta(seconds=age)
        with transaction(app) as s:
            s.execute(update(ApiToken).values(last_used_at=stamped))
        with token_writes(app) as writes:
            if method == "GET":
                client.get("/api/v1/sections", headers=headers)
            else:
                client.post("/api/v1/sections", json={"name": "x"}, headers=headers)
        assert (len(writes) == 1) is expect_write, (age, method)
        assert (the_row(app).last_used_at != stamped) is expect_write


def test_a_failed_write_still_records_use(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient
) -> None:
    """The use is committed before the view runs, so a 422 does not roll it back."""
    token = make_token(runner, "editor", "--scope", "write")
    response = client.post(
        "/api/v1/sections", json={"name": ""}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    assert the_row(app).last_used_at is not None


def test_token_name_limit_is_the_one_in_limits(app: Flask) -> None:
    with transaction(app) as s:
        token, _ = create_token(s, "editor", "n" * limits.TOKEN_NAME_MAX)
        assert token.name == "n" * limits.TOKEN_NAME_MAX
    with pytest.raises(ValidationError) as caught, transaction(app) as s:
        create_token(s, "editor", "n" * (limits.TOKEN_NAME_MAX + 1))
    assert caught.value.errors == {
        "name": f"The name is longer than {limits.TOKEN_NAME_MAX} characters."
    }
