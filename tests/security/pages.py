"""Signing in through the login form and a tiny PNG, for the security tests of pages."""

from __future__ import annotations

from io import BytesIO

from conftest import TEST_PASSWORD
from flask.testing import FlaskClient
from PIL import Image


def sign_in(client: FlaskClient, username: str, password: str = TEST_PASSWORD) -> str:
    """Sign in through the login form; the session's CSRF token."""
    client.delete_cookie("minqing_session")
    client.get("/login")
    with client.session_transaction() as session:
        token = session["csrf"]
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    with client.session_transaction() as session:
        return str(session["csrf"])


def png(colour: tuple[int, int, int] = (10, 120, 40)) -> bytes:
    out = BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, format="PNG")
    return out.getvalue()
