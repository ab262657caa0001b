"""The local dashboard: ``hf-tracking serve [DIR ...]``, read-only over the run store.

:mod:`~hf_tracking.serve.index` follows each ``metrics.jsonl`` by byte offset,
:mod:`~hf_tracking.serve.runs` finds the runs, :mod:`~hf_tracking.serve.downsample` is the maths,
:mod:`~hf_tracking.serve.api` the JSON, :mod:`~hf_tracking.serve.server` the HTTP server and
``static/`` the page. Needs the ``serve`` extra (plotly for its bundled ``plotly.min.js``; orjson
to read rows faster), which ``import hf_tracking`` never imports.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from hf_tracking.serve.runs import RunCatalog

DEFAULT_DIR = "experiments"
DEFAULT_PORT = 7070


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def host_warning(host: str) -> str | None:
    """What to say when the dashboard is reachable from other machines."""
    if host in ("0.0.0.0", "::", ""):
        return (
            f"note: serving on {host or 'all interfaces'}: anyone who can reach this machine and "
            "has the URL below (its access token) can read these runs"
        )
    if not is_loopback(host):
        return (
            f"note: serving on {host}, not only this machine: whoever on its network has the "
            "URL below (its access token) can read these runs"
        )
    return None


def warm(catalog: RunCatalog) -> threading.Thread:
    """Index the runs in the background, most recently written first, so a run opens at once."""

    def work() -> None:
        for run in sorted(catalog.runs(), key=lambda item: item.metrics_mtime() or 0, reverse=True):
            if catalog.memory() >= catalog.memory_budget:
                return
            if run.metrics_path.is_file():
                catalog.index(run)

    thread = threading.Thread(target=work, name="hf-tracking-index", daemon=True)
    thread.start()
    return thread


def serve(
    dirs: list[str],
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    memory_mb: int = 1024,
    out: TextIO = sys.stdout,
    token: str | None = None,
) -> int:
    """Serve the runs under ``dirs`` until interrupted; returns the exit status. Off loopback,
    or with ``token``, requests need the access token (:mod:`~hf_tracking.serve.access`): the
    printed URL carries it, generated unless ``token`` is given."""
    from hf_tracking.serve.access import QUERY, new_token
    from hf_tracking.serve.runs import RunCatalog
    from hf_tracking.serve.server import DashboardServer, plotly_js_path

    plotly_js_path()  # fail now, with the install hint, rather than on the first page load
    roots = dirs or [DEFAULT_DIR]
    for root in roots:
        if not Path(root).is_dir():
            print(f"note: {root} does not exist yet; its runs appear once written", file=out)
    warning = host_warning(host)
    if warning:
        print(warning, file=out)
    if memory_mb < 1:
        print(f"error: --memory-mb must be >= 1, got {memory_mb}", file=sys.stderr)
        return 2
    if token is None and not is_loopback(host):
        token = new_token()
    catalog = RunCatalog(roots, memory_budget=memory_mb * 1024**2)
    try:
        server = DashboardServer(catalog, host, port, token=token)
    except OSError as error:
        print(f"error: cannot listen on {host}:{port} ({error.strerror}); try --port", file=out)
        return 1
    warm(catalog)
    url = server.url if token is None else f"{server.url}?{QUERY}={token}"
    # The one line that shows the token.
    print(f"hf-tracking dashboard for {', '.join(roots)}: open {url}", file=out, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
