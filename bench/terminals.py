"""Benchmark: input and terminals, Dockyard beside docker.

- `echo hi | docker run -i --rm busybox cat`: attach, start, input, end of input, exit;
- a keystroke's round trip through an attached terminal (`docker run -dit busybox cat`,
  a raw hijacked attach, one byte typed, its echo read back);
- `docker exec -i c cat` of 32 MiB: input throughput.

    .venv/bin/python bench/terminals.py [--runs 20]
    .venv/bin/python tests/support/dockerd.py -- .venv/bin/python bench/terminals.py --docker
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time

from benchlib import docker, docker_peer, start_dockyard, stop_dockyard, timed

_INPUT = b"x" * (32 << 20)


def piped_run(host: str) -> float:
    return timed(lambda: docker(host, "run", "-i", "--rm", "busybox", "cat", input=b"hi\n"))


def keystrokes(host: str, count: int) -> list[float]:
    """Round trips of single bytes typed into an attached terminal."""
    container = docker(host, "run", "-dit", "busybox", "cat").stdout.decode().strip()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(host.removeprefix("unix://"))
        sock.settimeout(10)
        sock.sendall(
            f"POST /containers/{container}/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: d\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        times = []
        for _ in range(count):
            began = time.perf_counter()
            sock.sendall(b"k")
            while b"k" not in sock.recv(64):
                pass
            times.append(time.perf_counter() - began)
        return times
    finally:
        sock.close()
        docker(host, "rm", "-f", container)


def exec_throughput(host: str) -> float:
    """MiB/s of input through `docker exec -i c cat` (its output, the same bytes, read back)."""
    container = docker(host, "run", "-d", "busybox", "sleep", "600").stdout.decode().strip()
    try:
        elapsed = timed(lambda: docker(host, "exec", "-i", container, "cat", input=_INPUT))
        return len(_INPUT) / (1 << 20) / elapsed
    finally:
        docker(host, "rm", "-f", container)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--docker", action="store_true", help="also measure the dockerd at $DOCKER_HOST")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="dy-bench-terminals-", dir="/var/tmp")
    daemon, ours = start_dockyard(base)
    try:
        hosts = {"dockyard": ours}
        if args.docker:
            hosts["docker"] = docker_peer(ours)
        runs: dict[str, list[float]] = {name: [] for name in hosts}
        for _ in range(args.runs):
            for name, host in hosts.items():
                runs[name].append(piped_run(host))
        keys = {name: statistics.median(keystrokes(host, args.runs * 5)) for name, host in hosts.items()}
        rates = {name: statistics.median(exec_throughput(host) for _ in range(3)) for name, host in hosts.items()}
    finally:
        stop_dockyard(daemon, base)
    print(f"terminals, {args.runs} runs, {time.strftime('%Y-%m-%d')}, {os.uname().release}, {os.cpu_count()} CPUs")
    for name in hosts:
        print(f"  {name:9s} `echo hi | run -i --rm cat` median {statistics.median(runs[name]) * 1000:6.0f} ms   "
              f"keystroke round trip {keys[name] * 1000:5.1f} ms   exec -i cat {rates[name]:6.1f} MiB/s")  # fmt: skip
    if "docker" in hosts:
        ratio = statistics.median(runs["dockyard"]) / statistics.median(runs["docker"])
        print(f"  ratios dockyard/docker: run -i {ratio:.2f}, keystroke {keys['dockyard'] / keys['docker']:.2f}, "
              f"exec throughput {rates['dockyard'] / rates['docker']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
