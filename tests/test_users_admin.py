"""The accounts pages, driven as a person would: list, create, disable, enable, reset, role;
and the Password page every account has."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import select

from feedsvc.storage.db import transaction
from feedsvc.storage.models import User
from tests.support.app import EDITOR, WRITER
from tests.support.forms import AuthActions, labelled_fields, submit


def account(app: Flask, name: str) -> User:
    with transaction(app, write=False) as s:
        return s.scalars(select(User).where(User.username == name)).one()


def can_log_in(app: Flask, name: str, password: str) -> bool:
    client = app.test_client()
    response = AuthActions(client).login(name, password)
    return response.status_code == 302 and client.get("/admin/").status_code == 200


def rows(page: str) -> list[list[str]]:
    doc = html.fromstring(page)
    return [
        [" ".join(td.text_content().split()) for td in tr.xpath("./td")]
        for tr in doc.xpath("//table//tbody/tr")
    ]


def errors_of(response: object) -> dict[str, str]:
    page = html.fromstring(response.get_data(as_text=True))  # type: ignore[attr-defined]
    return {p.get("id")[: -len("-error")]: p.text_content() for p in page.xpath("//p[@id]")}


def alert(response: object) -> str:
    page = html.fromstring(response.get_data(as_text=True))  # type: ignore[attr-defined]
    return " ".join(p.text_content() for p in page.xpath("//p[@role='alert']"))


def press(client: FlaskClient, user_id: int, action: str, **by_label: str) -> object:
    """Use one of the forms on an account's page (role, password, disable, enable)."""
    page = client.get(f"/admin/users/{user_id}")
    return submit(client, page, by_label, form_action=f"/admin/users/{user_id}/{action}")


def test_the_list_shows_name_role_state_and_creation(
    app: Flask, editor: FlaskClient, writer: FlaskClient
) -> None:
    listing = rows(editor.get("/admin/users/").get_data(as_text=True))
    assert [r[:3] for r in listing] == [
        [f"{EDITOR[0]} (you)", "Admin", "Active"],
        [WRITER[0], "Editor", "Active"],
    ]
    assert all(r[3].startswith("20") and r[3].endswith("UTC") for r in listing)  # created


def test_an_admin_creates_an_account_that_logs_in(app: Flask, editor: FlaskClient) -> None:
    page = editor.get("/admin/users/new").get_data(as_text=True)
    assert set(labelled_fields(page)) == {"Username", "Role", "Password"}
    response = submit(
        editor,
        "/admin/users/new",
        {"Username": "ana", "Role": "admin", "Password": "a long passphrase"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/users/")
    followed = editor.get(response.headers["Location"]).get_data(as_text=True)
    assert "Account created: ana (admin)." in followed
    assert account(app, "ana").role == "admin"
    assert can_log_in(app, "ana", "a long passphrase")


def test_new_accounts_are_editors_unless_chosen(app: Flask, editor: FlaskClient) -> None:
    submit(editor, "/admin/users/new", {"Username": "ben", "Password": "a long passphrase"})
    assert account(app, "ben").role == "editor"


def test_account_form_refusals_are_field_errors(app: Flask, editor: FlaskClient) -> None:
    response = submit(
        editor, "/admin/users/new", {"Username": EDITOR[0].upper(), "Password": "short"}
    )
    assert response.status_code == 200
    assert errors_of(response) == {
        "username": f"The username “{EDITOR[0].upper()}” is taken.",
        "password": "The password must be at least 8 characters.",
    }
    response = submit(
        editor, "/admin/users/new", {"Username": "bad name", "Role": "owner", "Password": "x" * 9}
    )
    assert set(errors_of(response)) == {"username", "role"}
    with transaction(app, write=False) as s:
        assert s.scalars(select(User.username)).all() == [EDITOR[0]]


def test_disable_then_enable_an_account(
    app: Flask, editor: FlaskClient, writer: FlaskClient
) -> None:
    writer_id = account(app, WRITER[0]).id
    assert writer.get("/admin/").status_code == 200
    response = press(editor, writer_id, "disable")
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert not account(app, WRITER[0]).is_active
    assert account(app, WRITER[0]).session_version == 1
    # The open session is over; the password no longer logs in.
    assert writer.get("/admin/").status_code == 302
    assert not can_log_in(app, *WRITER)
    listing = rows(editor.get("/admin/users/").get_data(as_text=True))
    assert listing[1][2].startswith("Disabled since 20")

    press(editor, writer_id, "enable")
    assert account(app, WRITER[0]).is_active
    assert can_log_in(app, *WRITER)


def test_an_admin_cannot_disable_or_demote_themself(app: Flask, editor: FlaskClient) -> None:
    page = editor.get("/admin/users/1").get_data(as_text=True)
    assert "You cannot disable your own account." in page
    assert "/admin/users/1/disable" not in page and "/admin/users/1/role" not in page
    # Sent anyway (an old page, a crafted form): refused with the reason, 409.
    token = html.fromstring(page).xpath("//input[@name='csrf_token']/@value")[0]
    for action, data in [("disable", {}), ("role", {"role": "editor"})]:
        response = editor.post(f"/admin/users/1/{action}", data={"csrf_token": token, **data})
        assert response.status_code == 409
        assert "own" in alert(response)
    assert account(app, EDITOR[0]).is_active and account(app, EDITOR[0]).is_admin


def test_an_admin_resets_a_password_and_the_old_one_stops_working(
    app: Flask, editor: FlaskClient, writer: FlaskClient
) -> None:
    writer_id = account(app, WRITER[0]).id
    response = press(editor, writer_id, "password", **{"New password": "short"})
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert errors_of(response) == {"password": "The password must be at least 8 characters."}
    response = press(editor, writer_id, "password", **{"New password": "set by the admin"})
    assert response.status_code == 302  # type: ignore[attr-defined]
    stored = account(app, WRITER[0])
    assert stored.session_version == 1 and stored.password_changed_at is not None
    assert not can_log_in(app, *WRITER)
    assert can_log_in(app, WRITER[0], "set by the admin")


def test_roles_are_changed_on_the_accounts_page(app: Flask, editor: FlaskClient) -> None:
    submit(editor, "/admin/users/new", {"Username": "ben", "Password": "a long passphrase"})
    ben = account(app, "ben").id
    assert press(editor, ben, "role", Role="admin").status_code == 302  # type: ignore[attr-defined]
    assert account(app, "ben").is_admin
    page = editor.get(f"/admin/users/{ben}").get_data(as_text=True)
    assert "ben is now an admin." in page


def test_unknown_accounts_are_404(editor: FlaskClient) -> None:
    for path in ["/admin/users/99", "/admin/users/99999999999"]:
        assert editor.get(path).status_code == 404


# --- the Password page -----------------------------------------------------------------------


def change(client: FlaskClient, current: str, new: str, again: str | None = None) -> object:
    values = {"Current password": current, "New password": new, "New password again": again or new}
    return submit(client, "/admin/password", values)


def test_a_password_change_needs_the_current_one_and_logs_out_everywhere(
    app: Flask, writer: FlaskClient
) -> None:
    other = app.test_client()  # the same account, logged in elsewhere
    AuthActions(other).login(*WRITER)
    response = change(writer, "not my password", "my own new passphrase")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert errors_of(response) == {"current": "That is not your current password."}
    response = change(writer, WRITER[1], "my own new passphrase", "a typo in it")
    assert errors_of(response) == {"confirm": "The two new passwords differ."}
    response = change(writer, WRITER[1], WRITER[1])
    assert errors_of(response) == {"password": "The new password must differ from the current one."}
    assert account(app, WRITER[0]).session_version == 0

    response = change(writer, WRITER[1], "my own new passphrase")
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response.headers["Location"].endswith("/admin/login")  # type: ignore[attr-defined]
    assert writer.get("/admin/").status_code == 302  # this session has ended
    assert account(app, WRITER[0]).session_version == 1  # and, by its version, every other
    assert can_log_in(app, WRITER[0], "my own new passphrase")
    assert not can_log_in(app, *WRITER)
