"""An HTTP server with a fixed number of worker threads, for many clients and idle connections.

The standard library's ``ThreadingHTTPServer`` starts a thread per connection and keeps it while
the connection is open, with a listen backlog of 5: 200 clients at once had connections refused
and retried, and 1,000 idle keep-alive connections held 1,000 threads. Here the listening socket
has a backlog of ``request_queue_size`` (1024); an accepted connection waits in a selector, on
one thread, until a request arrives on it, and only then takes one of ``workers`` threads for
that one request. A kept-alive connection goes back to the selector; one that sends nothing for
``idle_timeout`` seconds is closed, and a request that has started must arrive whole within
``request_timeout`` seconds.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

WORKERS = 16
IDLE_TIMEOUT = 30.0
REQUEST_TIMEOUT = 10.0


class OneRequestHandler(BaseHTTPRequestHandler):
    """Answers one request per call; the server decides whether the connection stays open.

    The socket is read unbuffered, so no byte of a following request is left in a buffer when
    the connection goes back to the selector."""

    rbufsize = 0
    timeout = REQUEST_TIMEOUT

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()
        self.server.keep[self.connection] = not self.close_connection  # type: ignore[attr-defined]


class PooledHTTPServer(HTTPServer):
    """``HTTPServer`` whose requests run on a bounded pool; see the module's docstring."""

    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[OneRequestHandler],
        workers: int = WORKERS,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.idle_timeout = idle_timeout
        self.keep: dict[socket.socket, bool] = {}
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="hf-tracking-http")
        self._selector = selectors.DefaultSelector()
        self._idle: dict[socket.socket, tuple[Any, float]] = {}  # socket -> (address, deadline)
        self._lock = threading.Lock()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._closed = False
        super().__init__(address, handler)
        self._watcher = threading.Thread(target=self._watch, name="hf-tracking-idle", daemon=True)
        self._watcher.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """A new connection waits for its first request without holding a thread."""
        self._park(request, client_address)

    def _park(self, connection: socket.socket, address: Any) -> None:
        with self._lock:
            if self._closed:
                self.shutdown_request(connection)
                return
            self._idle[connection] = (address, time.monotonic() + self.idle_timeout)
            self._selector.register(connection, selectors.EVENT_READ)
        self._wake_write.send(b"\0")

    def _watch(self) -> None:
        """Hands connections with a request waiting to the pool; closes those idle too long."""
        while not self._closed:
            try:
                events = self._selector.select(timeout=1.0)
            except (OSError, ValueError):  # closed under us by server_close()
                return
            now = time.monotonic()
            with self._lock:
                ready = []
                for key, _ in events:
                    if key.fileobj is self._wake_read:
                        with contextlib.suppress(BlockingIOError):
                            self._wake_read.recv(4096)
                        continue
                    connection = key.fileobj
                    self._selector.unregister(connection)
                    ready.append((connection, self._idle.pop(connection)[0]))
                expired = [sock for sock, (_, deadline) in self._idle.items() if deadline < now]
                for connection in expired:
                    self._selector.unregister(connection)
                    del self._idle[connection]
            for connection in expired:
                self.shutdown_request(connection)
            for connection, address in ready:
                try:
                    self._pool.submit(self._serve_one, connection, address)
                except RuntimeError:  # the pool is shut down
                    self.shutdown_request(connection)

    def _serve_one(self, connection: socket.socket, address: Any) -> None:
        try:
            self.finish_request(connection, address)
        except Exception:
            self.handle_error(connection, address)
            self.keep.pop(connection, None)
        if self.keep.pop(connection, False):
            connection.settimeout(None)
            self._park(connection, address)
        else:
            self.shutdown_request(connection)

    def idle_connections(self) -> int:
        """How many open connections wait for a request (for tests and benchmarks)."""
        with self._lock:
            return len(self._idle)

    def server_close(self) -> None:
        super().server_close()
        with self._lock:
            self._closed = True
            waiting = list(self._idle)
            self._idle.clear()
        for connection in waiting:
            self.shutdown_request(connection)
        self._wake_write.send(b"\0")
        self._watcher.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()
