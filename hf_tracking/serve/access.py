"""The access token of a dashboard other machines can reach, as Jupyter's.

Bound to an address other than loopback (or given ``--token``), the server answers only requests
that carry the token: ``?token=...`` on the URL printed at start (the answer sets it as a cookie
and redirects to the same address without it, so it stays out of the address bar and history)
or the cookie of an earlier visit. Tokens are compared in constant time
(:func:`hmac.compare_digest`); every other request is refused with 401.
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, urlencode

COOKIE = "hf_tracking_token"
QUERY = "token"


def new_token() -> str:
    """48 hex digits from the system's random source."""
    return secrets.token_hex(24)


class TokenAccess:
    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("token: an access token must not be empty")
        self._token = token.encode("utf-8")

    def _matches(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode("utf-8"), self._token)

    def check(self, query: str, cookie_header: str | None) -> tuple[bool, str | None]:
        """Whether a request with this query string and Cookie header may be answered, and,
        where the token came in the query, the query to redirect to (without it)."""
        pairs = parse_qsl(query, keep_blank_values=True)
        given = [value for name, value in pairs if name == QUERY]
        if given:
            if not self._matches(given[-1]):
                return False, None
            return True, urlencode([(name, value) for name, value in pairs if name != QUERY])
        return self._matches(_cookie(cookie_header)), None

    def cookie(self) -> str:
        """The Set-Cookie value that lets the browser's later requests in."""
        token = self._token.decode("utf-8")
        return f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"


def _cookie(header: str | None) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None
