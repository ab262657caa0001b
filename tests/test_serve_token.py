"""A dashboard bound to every interface asks for the access token it printed: every request
without it is refused, the page works in headless Chromium with it, and the token is shown once."""

from __future__ import annotations

import http.client
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from hf_tracking.serve.access import TokenAccess
from tests.support.browser import chromium, wait_for
from tests.support.dashboard import finished_run


def request(port: int, path: str, cookie: str | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_tokens_are_compared_whole_and_taken_from_the_query_or_the_cookie():
    access = TokenAccess("secret")
    assert access.check("token=secret&run=a", None) == (True, "run=a")
    assert access.check("", "hf_tracking_token=secret; other=1") == (True, None)
    for query, cookie in [("token=secre", None), ("", "hf_tracking_token=secrets"), ("", None)]:
        assert access.check(query, cookie) == (False, None)
    with pytest.raises(ValueError, match="token"):
        TokenAccess("")


@pytest.mark.slow
def test_every_interface_needs_the_printed_token(tmp_path):
    finished_run(tmp_path / "experiments", "shared_run", steps=20)
    process = subprocess.Popen(
        [sys.executable, "-m", "hf_tracking.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        while not (lines and "open http" in lines[-1]):
            lines.append(process.stdout.readline())
            assert lines[-1], lines
        url = lines[-1].rsplit("open ", 1)[1].strip()
        parts = urlsplit(url)
        token = parts.query.removeprefix("token=")
        assert len(token) >= 32 and parts.path == "/"
        for path in ("/", "/api/runs", "/static/app.js", "/?token=wrong", "/api/runs?token="):
            assert request(parts.port, path).status == 401, path
        assert request(parts.port, "/api/runs", "hf_tracking_token=wrong").status == 401
        entry = request(parts.port, f"/?{parts.query}")
        assert entry.status == 303 and entry.getheader("Location") == "/"
        cookie = entry.getheader("Set-Cookie")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert request(parts.port, "/api/runs", cookie.split(";")[0]).status == 200

        with chromium() as driver:
            driver.get(url)
            wait_for(driver, "document.querySelectorAll('#runs tbody tr').length === 1")
            assert token not in driver.current_url
            wait_for(driver, "window.hfDashboard.draws > 0")
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=10)
    output = "".join(lines) + rest
    assert output.count(token) == 1, output
