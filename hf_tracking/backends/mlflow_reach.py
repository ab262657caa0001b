"""Reaching an MLflow tracking server: whether it answers, asked once before MLflow's client is
made, and single calls without MLflow's client retries.

MLflow's client retries a refused connection for minutes (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``
with doubling waits) before it raises, so a wrong tracking URI would show only when the run
finishes. One plain request with a short timeout and no retry tells within seconds: a server
that refuses the connection, a name that does not resolve, or credentials refused (401/403) raise
:class:`ServerUnreachable`, naming the URI and the error. Anything else (an answer, a timeout, a
5xx) is left to the client and its retries.

While a run logs, :func:`post` makes one call, once (no retry, a timeout of its own): a server
that does not answer raises :class:`StoreUnavailable`, and the backend decides when to try
again (:mod:`hf_tracking.backends.mlflow_delivery`), whatever ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``
says.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import urllib.error
import urllib.request
from typing import Any

PROBE_SECONDS = 5.0
PROBE_PATH = "/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default"
# Seconds one call while a run logs may take (a log_batch of 1000 points takes well under one).
CALL_SECONDS = 30.0
# Answers that say the server cannot take the call now, but may later.
PASSING_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class ServerUnreachable(ConnectionError):
    """The tracking server cannot be used as configured; trying again will not help."""


class StoreUnavailable(ConnectionError):
    """The tracking store did not take a call (no answer, a timeout, a 5xx or 429 answer, a
    store locked by another writer); the same call may work later."""


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


def post(host_creds: Any, endpoint: str, body: dict[str, Any]) -> None:
    """One POST of ``body`` to a server's REST ``endpoint``, sent once with MLflow's own request
    code (its credentials and TLS settings): :class:`StoreUnavailable` where it did not answer
    or answered that it cannot now; MLflow's error where it refused the call."""
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    try:
        response = http_request(
            host_creds, endpoint, "POST", max_retries=0, backoff_factor=0, backoff_jitter=0,
            timeout=CALL_SECONDS, raise_on_status=False, json=body,
        )  # fmt: skip
    except Exception as error:
        if str(error).startswith("API request to"):  # no answer: refused, reset, timed out
            raise StoreUnavailable(str(error)) from None
        raise
    if response.status_code in PASSING_STATUS:
        raise StoreUnavailable(
            f"{host_creds.host}{endpoint} answered HTTP {response.status_code} {response.reason}"
        )
    verify_rest_response(response, endpoint)
