"""A real ``mlflow server`` on 127.0.0.1 for the tests: basic auth on, SQLite behind it, a free
port and a directory of its own; it can be stopped (as a crash: SIGKILL to its process group)
and started again on the same port and store."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.launch import free_port

ADMIN, PASSWORD = "admin", "a-team-server-password-1"
START_SECONDS = 240.0  # on 2 loaded cores the server takes 15-50 s to answer
# Users in a database of the server's directory; a login checked once a minute, not at every
# request (each check is a PBKDF2 hash, near a second on a loaded core).
AUTH_CONFIG = """[mlflow]
default_permission = READ
database_uri = sqlite:///{database}
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 60
"""


class MlflowServer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.starts: list[float] = []  # seconds from launch to the first answer, per start

    def start(self) -> None:
        """Launch it and return once it answers."""
        auth = self.directory / "basic_auth.ini"
        auth.write_text(AUTH_CONFIG.format(database=self.directory / "basic_auth.db"))
        environment = {
            **os.environ,
            "MLFLOW_AUTH_CONFIG_PATH": str(auth),
            "MLFLOW_AUTH_ADMIN_PASSWORD": PASSWORD,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": "hf-tracking-tests-secret",
            # The server's job runner (huey workers) is not needed to log runs.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        }
        command = [
            sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth",
            "--backend-store-uri", f"sqlite:///{self.directory / 'mlflow.db'}",
            "--default-artifact-root", str(self.directory / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
        ]  # fmt: skip
        log = open(self.directory / "server.log", "a")  # noqa: SIM115 (the server holds it)
        began = time.monotonic()
        self.process = subprocess.Popen(
            command, cwd=self.directory, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() - began > START_SECONDS:
                self.stop()
                raise RuntimeError(f"mlflow server did not start:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        self.starts.append(time.monotonic() - began)

    def answers(self) -> bool:
        try:
            urllib.request.urlopen(self.uri + "/health", timeout=2).close()
        except urllib.error.HTTPError:
            return True  # an answer, even a refusal
        except OSError:
            return False
        return True

    def stop(self) -> None:
        """Kill the server and its workers at once, as a crash would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def store(self) -> Any:
        """A client of the server's own SQLite store, for reading back many histories without
        a request each."""
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=f"sqlite:///{self.directory / 'mlflow.db'}")

    def log(self) -> str:
        return (self.directory / "server.log").read_text(errors="replace")
