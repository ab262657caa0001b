"""Starting a script as a 2-process gloo job with `accelerate launch` on the CPU."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def accelerate_launch(
    script: Path,
    *arguments: str,
    cwd: Path,
    timeout: float = 300,
    environment: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """``--multi_gpu`` forms a gloo process group on the CPU (``--cpu`` does not)."""
    port = str(free_port())
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "MASTER_PORT": port,
        **(environment or {}),
    }
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        port,
        str(script),
        *arguments,
    ]
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def torchrun_agents(
    script: Path,
    *arguments: str,
    directories: list[Path],
    processes_per_node: int = 2,
    timeout: float = 300,
    environment: dict[str, str] | None = None,
) -> list[subprocess.CompletedProcess]:
    """One torchrun agent per directory (a node each, all on 127.0.0.1), meeting through a c10d
    rendezvous; each agent's processes run in its own directory."""
    endpoint = f"127.0.0.1:{free_port()}"
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        **(environment or {}),
    }
    # Files, not pipes: an agent blocked on a full pipe would stall the other agents.
    with contextlib.ExitStack() as files:
        agents, logs = [], []
        for node, directory in enumerate(directories):
            command = [
                sys.executable, "-m", "torch.distributed.run", "--nnodes", str(len(directories)),
                "--nproc_per_node", str(processes_per_node), "--node_rank", str(node),
                "--rdzv_backend", "c10d", "--rdzv_endpoint", endpoint, "--rdzv_id", "hf_tracking",
                "--local_addr", "127.0.0.1", "--max_restarts", "0", str(script), *arguments,
            ]  # fmt: skip
            out, err = (files.enter_context(tempfile.TemporaryFile("w+")) for _ in range(2))
            logs.append((out, err))
            agents.append(
                subprocess.Popen(command, cwd=directory, env=environment, stdout=out, stderr=err)
            )
        results = []
        for agent, (out, err) in zip(agents, logs, strict=True):
            agent.wait(timeout=timeout)
            texts = []
            for log in (out, err):
                log.seek(0)
                texts.append(log.read())
            results.append(subprocess.CompletedProcess(agent.args, agent.returncode, *texts))
    return results
