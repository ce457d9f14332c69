"""Benchmark: the engine beside dockerd: `exec true`, `ps -a` over 100 containers, the daemon's idle memory
and the memory each idle running container costs.

Starts a `dockyard daemon` of its own (busybox bootstrapped into it) and drives
it with the docker CLI; with --docker, the private dockerd at $DOCKER_HOST (run
this under tests/support/dockerd.py) gets the same image and the same commands,
interleaved run by run. Memory is the proportional set size (PSS, from
/proc/<pid>/smaps_rollup) summed over the engine's own processes, never the
containers':

    dockyard   the daemon, its shim template and the shims
    docker     dockerd, containerd and the containerd-shim-runc-v2s: every process in the
               private dockerd's mount namespace (containers have namespaces of their own)

Idle: after one `run --rm` (so that dockyard's template and docker's lazily
started parts exist), no container. Per container: (total with N idle `sleep`
containers - total before) / N, i.e. the daemon's growth plus the shims.

    .venv/bin/python bench/engine.py [--runs 20] [--containers 100] [--idle 50]
    .venv/bin/python tests/support/dockerd.py -- .venv/bin/python bench/engine.py --docker
    .venv/bin/python tests/support/dockerd.py -- .venv/bin/python bench/engine.py --docker --only exec --sets 5

`exec true` is also timed against bench/stub_engine.py, a server that answers the
CLI's five requests and does nothing: the floor, the CLI's own share; "daemon" is
an engine's median minus it. `--only exec [--sets N]` measures exec alone.

`--only ps [--sets N]` measures `ps -a` alone, with its stages (bench/replay.py): the client's floor (the
same CLI against a replay of each engine's bytes) and each engine's own time for the CLI's two requests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from benchlib import cmdline, docker, docker_peer, pss_kib, start_dockyard, stop_dockyard, timed
from replay import Replay, daemon_seconds
from stub_engine import StubEngine


def dockyard_processes(daemon_pid: int, run_dir: str) -> Callable[[], tuple[list[int], list[int]]]:
    def pids() -> tuple[list[int], list[int]]:
        found = [daemon_pid]
        shims = []
        found += [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(p) == daemon_pid
                  and "shim_template" in cmdline(p)]  # fmt: skip
        containers = os.path.join(run_dir, "containers")
        for name in os.listdir(containers):
            try:
                with open(os.path.join(containers, name, "shim.pid")) as f:
                    pid = int(f.read())
            except (OSError, ValueError):
                continue
            if os.path.exists(os.path.join(containers, name, "exit.json")):
                continue  # that shim has finished
            shims.append(pid)
        return found, shims

    return pids


def dockerd_processes(tmp: str) -> Callable[[], tuple[list[int], list[int]]]:
    with open(os.path.join(tmp, "docker.pid")) as f:
        namespace = os.readlink(f"/proc/{int(f.read())}/ns/mnt")

    def pids() -> tuple[list[int], list[int]]:
        found, shims = [], []
        for p in os.listdir("/proc"):
            try:
                if p.isdigit() and os.readlink(f"/proc/{p}/ns/mnt") == namespace:
                    (shims if "containerd-shim" in cmdline(p) else found).append(int(p))
            except OSError:
                continue
        return found, shims

    return pids


def _ppid(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rpartition(")")[2].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def total_pss(pids: Callable[[], tuple[list[int], list[int]]]) -> tuple[int, int]:
    """PSS in KiB of (the daemon's processes, the shims)."""
    daemon, shims = pids()
    return sum(map(pss_kib, daemon)), sum(map(pss_kib, shims))


def measure_exec(hosts: dict[str, str], base: str, runs: int, sets: int) -> list[dict[str, float]]:
    """`docker exec true` into one running container each and into the stub (the floor), interleaved
    run by run: per set, the median in seconds by name."""
    running = {name: docker(host, "run", "-d", "busybox", "sleep", "600").stdout.decode().strip()
               for name, host in hosts.items()}  # fmt: skip
    try:
        with StubEngine(os.path.join(base, "stub.sock")) as stub:
            return [exec_medians({**hosts, "floor": stub}, {**running, "floor": "stub"}, runs) for _ in range(sets)]
    finally:
        for name, host in hosts.items():
            docker(host, "rm", "-f", running[name])


def exec_medians(hosts: dict[str, str], running: dict[str, str], runs: int) -> dict[str, float]:
    """`docker exec CONTAINER true` against each host, interleaved run by run: median seconds by name."""
    times: dict[str, list[float]] = {name: [] for name in hosts}
    for _ in range(runs):
        for name, host in hosts.items():
            times[name].append(timed(lambda h=host, c=running[name]: docker(h, "exec", c, "true")))
    return {name: statistics.median(values) for name, values in times.items()}


def measure_ps(hosts: dict[str, str], runs: int, containers: int) -> dict[str, dict[str, float]]:
    """`docker ps -a` over N created containers each, and its stages: the client's floor (the same CLI
    against a replay of the engine's bytes, bench/replay.py) and the engine's own time for the CLI's two
    requests. Medians in ms, interleaved run by run."""
    created = {name: [docker(host, "create", "busybox", "true").stdout.decode().strip()
                      for _ in range(containers)] for name, host in hosts.items()}  # fmt: skip
    try:
        with contextlib.ExitStack() as stack:
            replays = {name: stack.enter_context(Replay(host)) for name, host in hosts.items()}
            times: dict[str, dict[str, list[float]]] = {name: {"ps": [], "floor": [], "daemon": []} for name in hosts}
            for _ in range(runs):
                for name, host in hosts.items():
                    times[name]["ps"].append(timed(lambda h=host: docker(h, "ps", "-a")))
                    times[name]["floor"].append(timed(lambda h=replays[name]: docker(h, "ps", "-a")))
                    times[name]["daemon"].append(daemon_seconds(host))
    finally:
        for name, host in hosts.items():
            docker(host, "rm", *created[name])
    return {name: {stage: statistics.median(values) * 1000 for stage, values in stages.items()}
            for name, stages in times.items()}  # fmt: skip


def measure_memory(hosts: dict[str, str], processes: dict, idle: int) -> dict[str, dict[str, float]]:
    """PSS per idle running container (KiB): the engine's total, its daemon's growth, the shims'."""
    results = {}
    for name, host in hosts.items():
        before = total_pss(processes[name])
        ids = [docker(host, "run", "-d", "busybox", "sleep", "600").stdout.decode().strip() for _ in range(idle)]
        time.sleep(2)
        after = total_pss(processes[name])
        results[name] = {
            "per_container_kib": (sum(after) - sum(before)) / idle,
            "daemon_growth_kib": (after[0] - before[0]) / idle,
            "shim_kib": (after[1] - before[1]) / idle,
        }
        docker(host, "rm", "-f", *ids)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--containers", type=int, default=100, help="containers that `ps -a` lists")
    parser.add_argument("--idle", type=int, default=50, help="idle running containers for the memory figure")
    parser.add_argument("--docker", action="store_true", help="also measure the dockerd at $DOCKER_HOST")
    parser.add_argument("--only", choices=("exec", "ps"), help="only exec, or `ps -a` and its stages (with --sets)")
    parser.add_argument("--sets", type=int, default=1, help="with --only: sets of --runs, one line each")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="dy-bench-engine-", dir="/var/tmp")
    daemon, ours = start_dockyard(base)
    hosts = {"dockyard": ours}
    processes = {"dockyard": dockyard_processes(daemon.pid, f"{base}/run")}
    try:
        if args.docker:
            hosts["docker"] = docker_peer(ours)
            processes["docker"] = dockerd_processes(os.environ["DY_DOCKERD_TMP"])
        if args.only == "exec":
            print(f"`docker exec true`, {args.sets} sets of {args.runs} runs, {time.strftime('%Y-%m-%d %H:%M')}, "
                  f"{os.uname().release}, {os.cpu_count()} CPUs")  # fmt: skip
            for medians in measure_exec(hosts, base, args.runs, args.sets):
                print_exec_set(medians)
            return
        if args.only == "ps":
            print(f"`docker ps -a` over {args.containers} containers, {args.sets} sets of {args.runs} runs, "
                  f"{time.strftime('%Y-%m-%d %H:%M')}, {os.uname().release}, {os.cpu_count()} CPUs")  # fmt: skip
            for _ in range(args.sets):
                print_ps(measure_ps(hosts, args.runs, args.containers))
            return
        results: dict[str, dict[str, float]] = {}
        for name, host in hosts.items():
            docker(host, "run", "--rm", "busybox", "true")
            time.sleep(1)
            results[name] = {"idle_kib": sum(total_pss(processes[name]))}
        for name, seconds in measure_exec(hosts, base, args.runs, 1)[0].items():
            if name in results:
                results[name]["exec_ms"] = seconds * 1000
        for name, stages in measure_ps(hosts, args.runs, args.containers).items():
            results[name]["ps_ms"] = stages["ps"]
        for name, memory in measure_memory(hosts, processes, args.idle).items():
            results[name] |= memory
    finally:
        stop_dockyard(daemon, base)
    print(f"engine, {args.runs} runs each, `ps -a` over {args.containers} containers, {args.idle} idle containers, "
          f"{time.strftime('%Y-%m-%d')}, {os.uname().release}, {os.cpu_count()} CPUs")  # fmt: skip
    for name, figures in results.items():
        print(f"  {name:9s} exec true {figures['exec_ms']:6.0f} ms   ps -a {figures['ps_ms']:6.0f} ms   "
              f"daemon idle PSS {figures['idle_kib'] / 1024:6.1f} MiB   "
              f"per idle container {figures['per_container_kib'] / 1024:5.2f} MiB (daemon "
              f"{figures['daemon_growth_kib'] / 1024:4.2f} + shim {figures['shim_kib'] / 1024:4.2f})")  # fmt: skip
    if "docker" in results:
        ours_, theirs = results["dockyard"], results["docker"]
        print(f"  ratios dockyard/docker: exec {ours_['exec_ms'] / theirs['exec_ms']:.2f}, "
              f"ps -a {ours_['ps_ms'] / theirs['ps_ms']:.2f}, idle {ours_['idle_kib'] / theirs['idle_kib']:.2f}, "
              f"per container {ours_['per_container_kib'] / theirs['per_container_kib']:.2f}")  # fmt: skip


def print_exec_set(medians: dict[str, float]) -> None:
    floor = medians["floor"]
    parts = [f"{name} {s * 1000:5.1f} ms" + ("" if name == "floor" else f" (daemon {1000 * (s - floor):4.1f})")
             for name, s in medians.items()]  # fmt: skip
    line = "  ".join(parts)
    if "docker" in medians:
        line += f"   ratio {medians['dockyard'] / medians['docker']:.2f}"
    print(f"  {line}   load {os.getloadavg()[0]:.1f}", flush=True)


def print_ps(figures: dict[str, dict[str, float]]) -> None:
    line = "   ".join(f"{name} {f['ps']:5.1f} ms (floor {f['floor']:5.1f}, daemon {f['daemon']:5.2f})"
                      for name, f in figures.items())  # fmt: skip
    if "docker" in figures:
        line += f"   ratio {figures['dockyard']['ps'] / figures['docker']['ps']:.2f}"
    print(f"  {line}   load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
