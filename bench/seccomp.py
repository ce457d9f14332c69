"""Benchmark: what the default seccomp allowlist costs, Dockyard beside docker.

- compile: building the default profile for docker's capabilities and compiling it to BPF (every
  container start pays this once, in the runtime)
- syscall: getppid in a tight loop in a child with the filter installed, against one without
- run: `docker run --rm busybox true` with the default profile and with seccomp=unconfined on a
  `dockyard daemon` of its own; with --docker also on the dockerd at $DOCKER_HOST (run this under
  tests/support/dockerd.py), interleaved, so the filter's share of a start can be compared

    .venv/bin/python bench/seccomp.py [--runs 20]
    .venv/bin/python tests/support/dockerd.py -- .venv/bin/python bench/seccomp.py --docker
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from benchlib import docker, docker_peer, start_dockyard, stop_dockyard, timed

from dockyard.kernel import libc
from dockyard.kernel.constants import PR_SET_NO_NEW_PRIVS
from dockyard.kernel.seccomp import compile_filter, install
from dockyard.runtime.container_spec import DOCKER_CAPS
from dockyard.runtime.default_seccomp import profile

CALLS = 200_000


def compile_ms(runs: int) -> float:
    return statistics.median(timed(lambda: compile_filter(profile(list(DOCKER_CAPS)))) for _ in range(runs)) * 1000


def syscall_ns(program: bytes | None) -> float:
    """ns per getppid in a child, with program installed first (None: unfiltered)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            if program is not None:
                libc.prctl(PR_SET_NO_NEW_PRIVS, 1)
                install(program)
            getppid = os.getppid
            began = time.perf_counter_ns()
            for _ in range(CALLS):
                getppid()
            os.write(write_end, str((time.perf_counter_ns() - began) / CALLS).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        result = float(f.read())
    os.waitpid(pid, 0)
    return result


def run_ms(host: str, options: list[str]) -> float:
    return timed(lambda: docker(host, "run", "--rm", *options, "busybox", "true")) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--docker", action="store_true", help="also measure the dockerd at $DOCKER_HOST")
    args = parser.parse_args()
    program = compile_filter(profile(list(DOCKER_CAPS)))
    compiled = compile_ms(args.runs)
    plain = statistics.median(syscall_ns(None) for _ in range(5))
    filtered = statistics.median(syscall_ns(program) for _ in range(5))
    base = tempfile.mkdtemp(prefix="dy-bench-seccomp-", dir="/var/tmp")
    daemon, ours = start_dockyard(base)
    variants = {"default": [], "unconfined": ["--security-opt", "seccomp=unconfined"]}
    try:
        hosts = {"dockyard": ours}
        if args.docker:
            hosts["docker"] = docker_peer(ours)
        times = {(host, variant): [] for host in hosts for variant in variants}
        for _ in range(args.runs):
            for host, address in hosts.items():
                for variant, options in variants.items():
                    times[host, variant].append(run_ms(address, options))
    finally:
        stop_dockyard(daemon, base)
    print(f"seccomp, {args.runs} runs, {time.strftime('%Y-%m-%d')}, {os.uname().release}, {os.cpu_count()} CPUs")
    print(f"  default profile: {len(program) // 8} BPF instructions, profile + compile median {compiled:.2f} ms")
    print(f"  getppid from Python: {plain:.0f} ns unfiltered, {filtered:.0f} ns filtered "
          f"(ratio {filtered / plain:.2f})")  # fmt: skip
    for host in hosts:
        default, unconfined = (statistics.median(times[host, v]) for v in variants)
        print(f"  {host:9s} run median {default:5.0f} ms default, {unconfined:5.0f} ms unconfined "
              f"(ratio {default / unconfined:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
