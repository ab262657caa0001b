"""Whether an MLflow tracking server answers, asked once before MLflow's client is made.

MLflow's client retries a refused connection for minutes (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``
with doubling waits) before it raises, so a wrong tracking URI would show only when the run
finishes. One plain request with a short timeout and no retry tells within seconds: a server
that refuses the connection, a name that does not resolve, or credentials refused (401/403) raise
:class:`ServerUnreachable`, naming the URI and the error. Anything else (an answer, a timeout, a
5xx) is left to the client and its retries.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import urllib.error
import urllib.request

PROBE_SECONDS = 5.0
PROBE_PATH = "/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default"


class ServerUnreachable(ConnectionError):
    """The tracking server cannot be used as configured; trying again will not help."""


def _headers() -> dict[str, str]:
    """The credentials MLflow's client would send (its environment variables)."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = (
        os.environ.get(f"MLFLOW_TRACKING_{name}") for name in ("USERNAME", "PASSWORD")
    )
    if user and password:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {pair}"}
    return {}


def probe(uri: str, timeout: float = PROBE_SECONDS) -> None:
    """Raise :class:`ServerUnreachable` where the server at ``uri`` (http or https) refuses the
    connection or the login, or its name does not resolve."""
    request = urllib.request.Request(uri.rstrip("/") + PROBE_PATH, headers=_headers())
    context = None
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        context = ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context):
            return
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            raise ServerUnreachable(
                f"MLflow tracking server {uri} refused the login (HTTP {error.code} {error.reason})"
            ) from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
            raise ServerUnreachable(
                f"MLflow tracking server {uri} cannot be reached ({type(reason).__name__}: "
                f"{getattr(reason, 'strerror', None) or reason})"
            ) from None
    except (OSError, ValueError):
        return  # a timeout, a reset: the client's own retries decide
