"""The dashboard's HTTP server: GET only, on a bounded pool of threads (:mod:`.pool`).

It answers the pages (the runs, the scaling fits, the compare page), their stylesheets and
scripts (``static/``), ``plotly.min.js`` read from the installed ``plotly`` package (so it works
offline and nothing is copied into this repository), and the JSON of
:mod:`hf_tracking.serve.api`, :mod:`.scaling_view` and :mod:`.compare`. Every other path is a
404: files are served from a fixed list, and runs are looked up by id in the catalog, so no
request can name a file. Bound to a loopback address, it answers only requests addressed to a
loopback name (no DNS rebinding); with an access token (:mod:`.access`, required off loopback),
only requests that carry it. Bodies over 1 KiB are gzipped when the browser accepts it; the
pages' files are read and gzipped once, on a thread started with the server, so a first visit
does not wait for the 4.8 MB of ``plotly.min.js`` to compress.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
from collections.abc import Callable
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hf_tracking.serve import api, grouped
from hf_tracking.serve.access import TokenAccess
from hf_tracking.serve.clean import encode
from hf_tracking.serve.compare import compare
from hf_tracking.serve.pool import OneRequestHandler, PooledHTTPServer
from hf_tracking.serve.runs import RunCatalog
from hf_tracking.serve.scaling_view import ScalingView
from hf_tracking.serve.smoothed import SmoothCache
from hf_tracking.serve.table import RunsTable

STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/scaling": ("scaling.html", "text/html; charset=utf-8"),
    "/compare": ("compare.html", "text/html; charset=utf-8"),
    **{
        f"/static/{name}": (name, "text/javascript; charset=utf-8")
        for name in (
            "common.js",
            "run.js",
            "sketch.js",
            "plot.js",
            "workspace.js",
            "export.js",
            "app.js",
            "links.js",
            "scaling.js",
            "compare.js",
        )
    },
    **{f"/static/{name}": (name, "text/css; charset=utf-8") for name in ("app.css", "views.css")},
}
PLOTLY_PATH = "/static/plotly.min.js"
# Chromium's explicit compile hint: compile every function of the script on the thread that
# streams it in, not lazily on the page's thread (about a quarter less main-thread time for
# plotly's first compile here); a comment to every other browser.
COMPILE_HINT = b"//# allFunctionsCalledOnLoad\n"
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}
TOKEN_NEEDED = "this dashboard needs its access token: open the URL hf-tracking serve printed"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # plotly's WebGL traces compile their shaders' glue code with Function (regl); its PNG
    # export draws its SVG from a blob: URL
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:",
}


def plotly_js_path() -> Path:
    """``plotly.min.js`` inside the installed plotly package (the ``serve`` extra)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"plotly.min.js is not in the installed plotly ({path})")
    return path


class _Assets:
    """The page's files as bytes, each read (and gzipped) once, each under its own lock: a small
    file is never held up behind ``plotly.min.js`` being compressed."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[bytes, bytes]] = {}
        self._locks = {path: threading.Lock() for path in (*STATIC, PLOTLY_PATH)}

    def warm(self) -> threading.Thread:
        """Read and compress every file on a daemon thread, plotly's first (the slowest)."""

        def work() -> None:
            for path in (PLOTLY_PATH, *STATIC):
                with contextlib.suppress(ImportError, OSError):  # no plotly: its request says so
                    self.get(path)

        thread = threading.Thread(target=work, name="hf-tracking-assets", daemon=True)
        thread.start()
        return thread

    def get(self, path: str) -> tuple[bytes, bytes, str] | None:
        if path == PLOTLY_PATH:
            kind, read = (
                "text/javascript; charset=utf-8",
                lambda: COMPILE_HINT + plotly_js_path().read_bytes(),
            )
        elif path in STATIC:
            name, kind = STATIC[path]
            read = resources.files("hf_tracking.serve").joinpath("static", name).read_bytes
        else:
            return None
        with self._locks[path]:
            if path not in self._cache:
                body = read()
                self._cache[path] = (body, gzip.compress(body, compresslevel=6))
            body, zipped = self._cache[path]
        return body, zipped, kind


def make_handler(catalog: RunCatalog, assets: _Assets) -> type[OneRequestHandler]:
    table = RunsTable(catalog, lambda run: api.run_row(catalog, run))
    smoothed = SmoothCache(catalog.memory_budget // 16)  # smoothed curves, beside the indexes
    routes: dict[str, Callable[[dict[str, list[str]]], Any]] = {
        "/api/runs": lambda query: api.runs_table(table, query),
        "/api/run": lambda query: api.run_detail(catalog, (query.get("id") or [None])[0]),
        "/api/keys": lambda query: api.metric_keys(catalog, query.get("run") or []),
        "/api/series": lambda query: api.series(catalog, query, smoothed),
        "/api/groups": lambda query: grouped.groups(catalog, query, smoothed),
        "/api/scaling": ScalingView(catalog).answer,
        "/api/compare": lambda query: compare(catalog, query),
    }

    class Handler(OneRequestHandler):
        server_version = "hf-tracking"
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # the body is a second write: not held for an ACK

        def do_GET(self) -> None:
            if not self._host_allowed():
                self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
                return
            url = urlsplit(self.path)
            if not self._authorised(url.query):
                return
            route = routes.get(url.path)
            if route is not None:
                try:
                    body = encode(route(parse_qs(url.query)))
                    self._reply(HTTPStatus.OK, body, "application/json", cache="no-store")
                except api.ApiError as error:
                    self._error(error.status, str(error))
                except Exception as error:
                    self._error(
                        HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(error).__name__}: {error}"
                    )
                return
            asset = assets.get(url.path)
            if asset is None:
                self._error(HTTPStatus.NOT_FOUND, "not found")
                return
            body, zipped, kind = asset
            cache = "max-age=86400" if url.path == PLOTLY_PATH else "no-cache"
            self._reply(HTTPStatus.OK, body, kind, cache=cache, zipped=zipped)

        def _host_allowed(self) -> bool:
            """On a loopback address, only requests made to a loopback name: a web page whose
            own name was re-pointed at 127.0.0.1 (DNS rebinding) cannot read the runs."""
            if not getattr(self.server, "loopback_only", False):
                return True
            host = self.headers.get("Host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            return name.strip("[]") in LOOPBACK_NAMES

        def _authorised(self, query: str) -> bool:
            """With an access token: whether the request carries it (else a 401 is sent); a
            token in the query is answered by a redirect without it, setting the cookie."""
            access: TokenAccess | None = getattr(self.server, "access", None)
            if access is None:
                return True
            allowed, rest = access.check(query, self.headers.get("Cookie"))
            if not allowed:
                self._error(HTTPStatus.UNAUTHORIZED, TOKEN_NEEDED)
                return False
            if rest is None:
                return True
            location = urlsplit(self.path).path + (f"?{rest}" if rest else "")
            self.send_response(HTTPStatus.SEE_OTHER)
            self.send_header("Location", location)
            self.send_header("Set-Cookie", access.cookie())
            self.send_header("Content-Length", "0")
            self.send_header("Cache-Control", "no-store")
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            return False

        def do_HEAD(self) -> None:
            self.close_connection = True  # a body it may have sent is not read
            if self._authorised(""):
                self._error(HTTPStatus.METHOD_NOT_ALLOWED, "read-only: GET only")

        do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD

        def _error(self, status: int, message: str) -> None:
            body = encode({"error": message})
            self._reply(status, body, "application/json", cache="no-store")

        def _reply(
            self, status: int, body: bytes, kind: str, cache: str, zipped: bytes | None = None
        ) -> None:
            accepts = "gzip" in self.headers.get("Accept-Encoding", "")
            if accepts and zipped is None and len(body) > 1024:
                zipped = gzip.compress(body, compresslevel=1)
            use_zip = accepts and zipped is not None
            payload = zipped if use_zip else body
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", cache)
            if use_zip:
                self.send_header("Content-Encoding", "gzip")
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line a request would bury the URL the command printed

    return Handler


class DashboardServer(PooledHTTPServer):
    def __init__(
        self,
        catalog: RunCatalog,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        **pool: Any,
    ) -> None:
        """``token``: the access token every request must carry (none: no token asked);
        ``pool``: ``workers`` and ``idle_timeout`` of :class:`PooledHTTPServer`."""
        self.catalog = catalog
        self.loopback_only = host in LOOPBACK_NAMES
        self.access = TokenAccess(token) if token is not None else None
        assets = _Assets()
        super().__init__((host, port), make_handler(catalog, assets), **pool)
        assets.warm()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown}:{port}/"

    def start(self) -> threading.Thread:
        """Serve on a daemon thread (tests, benchmarks); ``shutdown()`` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="hf-tracking-serve", daemon=True)
        thread.start()
        return thread
