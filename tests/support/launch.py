"""Starting a script as a gloo job on the CPU: 2 processes with `accelerate launch`, or several
nodes on 127.0.0.1 (torchrun agents, or `accelerate launch` machines), each in its own
directory."""

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


def _launch_nodes(
    commands: list[list[str]], directories: list[Path], timeout: float, environment: dict[str, str]
) -> list[subprocess.CompletedProcess]:
    """One command per node, each in its directory, run together; their results in order."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **environment}
    # Files, not pipes: a node blocked on a full pipe would stall the other nodes.
    with contextlib.ExitStack() as files:
        nodes, logs = [], []
        for command, directory in zip(commands, directories, strict=True):
            out, err = (files.enter_context(tempfile.TemporaryFile("w+")) for _ in range(2))
            logs.append((out, err))
            nodes.append(
                subprocess.Popen(command, cwd=directory, env=environment, stdout=out, stderr=err)
            )
        results = []
        for node, (out, err) in zip(nodes, logs, strict=True):
            node.wait(timeout=timeout)
            texts = []
            for log in (out, err):
                log.seek(0)
                texts.append(log.read())
            results.append(subprocess.CompletedProcess(node.args, node.returncode, *texts))
    return results


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
    commands = []
    for node in range(len(directories)):
        commands.append([
            sys.executable, "-m", "torch.distributed.run", "--nnodes", str(len(directories)),
            "--nproc_per_node", str(processes_per_node), "--node_rank", str(node),
            "--rdzv_backend", "c10d", "--rdzv_endpoint", endpoint, "--rdzv_id", "hf_tracking",
            "--local_addr", "127.0.0.1", "--max_restarts", "0", str(script), *arguments,
        ])  # fmt: skip
    return _launch_nodes(commands, directories, timeout, environment or {})


def accelerate_machines(
    script: Path,
    *arguments: str,
    directories: list[Path],
    processes_per_machine: int = 2,
    timeout: float = 300,
    environment: dict[str, str] | None = None,
) -> list[subprocess.CompletedProcess]:
    """``accelerate launch --num_machines N --machine_rank R`` once per directory (a machine
    each, all on 127.0.0.1, machine 0 hosting the rendezvous); ``--num_processes`` counts every
    machine's processes. Without GPUs, ``--multi_gpu`` starts the processes on the CPU."""
    port = str(free_port())
    machines = len(directories)
    commands = []
    for rank in range(machines):
        commands.append([
            sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
            "--num_machines", str(machines), "--machine_rank", str(rank),
            "--num_processes", str(machines * processes_per_machine),
            "--main_process_ip", "127.0.0.1", "--main_process_port", port,
            "--mixed_precision", "no", "--dynamo_backend", "no", str(script), *arguments,
        ])  # fmt: skip
    return _launch_nodes(commands, directories, timeout, environment or {})
