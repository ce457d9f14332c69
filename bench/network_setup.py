"""Benchmark: what network setup adds to `docker run --rm busybox true`, Dockyard beside docker.

The same run with --network none (a namespace with lo only), on the default
bridge and on a user-defined network (embedded DNS too), interleaved run by run;
the differences of the medians to `none` are the cost of the network. The
issue's target: under 15 ms. Then the kernel work of one endpoint alone, in-process
(namespace handle, veth into a bridge, addresses, routes; and its removal), which
is that cost without the noise of whole runs. Starts a `dockyard daemon` of its own (tests/support/daemon.py:
temporary roots, a bridge and nftables table of its own, all removed afterwards).
With --docker, the dockerd at $DOCKER_HOST (a private one: run this under
tests/support/dockerd.py) gets the same busybox image and the same runs, but for
the default bridge: that dockerd runs with --bridge=none (no docker0, no iptables
rules). Its user network gets a subnet and a bridge name (dy-…) of its own.

    .venv/bin/python bench/network_setup.py [--runs 20]
    .venv/bin/python tests/support/dockerd.py -- .venv/bin/python bench/network_setup.py --docker
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))

from benchlib import docker, docker_peer, timed

from dockyard.core.network import Attachment, NetworkLinks
from dockyard.kernel import netns
from dockyard.network import interfaces
from dockyard.network.bridge import BridgeDriver, host_end
from support.daemon import DockyardDaemon

NETWORK = "dy-bench-net"
SUBNETS = {"dockyard": "10.250.0.0/24", "docker": "10.250.2.0/24"}
MODES = {"none": ("--network", "none"), "bridge": (), "user network": ("--network", NETWORK)}


def bootstrap_busybox(data_root: str) -> None:
    run = [sys.executable, "-c", "from dockyard.cli.main import main; raise SystemExit(main())"]
    env = dict(os.environ, DOCKYARD_BOOTSTRAP_CACHE=os.environ.get("DOCKYARD_TEST_CACHE",
                                                                   "/var/tmp/dockyard-test-cache"))  # fmt: skip
    subprocess.run([*run, "bootstrap", "busybox", "--data-root", data_root], env=env, check=True, capture_output=True)


def kernel_setup_ms(runs: int) -> tuple[float, float]:
    """Medians (ms) of the kernel work of one endpoint, in-process: namespace handle, veth into a bridge,
    addresses and routes, then dropping the handle; the daemon's share of a start and a stop without the
    noise of a CLI run. Each run's host end is gone (the kernel's background cleanup) before the bridge is."""
    links = NetworkLinks(id=secrets.token_hex(32), driver="bridge", device=f"dy-bb{secrets.token_hex(3)}",
                         gateway="10.250.1.1/24", gateway6="", mtu=1500, mode="", owner="dockyard:bench")  # fmt: skip
    driver = BridgeDriver()
    driver.create(links)
    base = tempfile.mkdtemp(prefix="dy-bench-netns-", dir="/run")
    up, down, hosts = [], [], []
    try:
        for run in range(runs):
            path = os.path.join(base, f"dy-{run}")
            endpoint = Attachment(
                endpoint_id=secrets.token_hex(32),
                ifname="eth0",
                address="10.250.1.2/24",
                gateway="10.250.1.1",
                mac="02:42:0a:fa:01:02",
                mtu=1500,
                default_route=True,
            )

            def setup(path=path, endpoint=endpoint) -> None:
                netns.create(path)
                interfaces.bring_up_loopback(path)
                driver.attach(links, path, endpoint)

            def teardown(path=path) -> None:
                netns.remove(path)  # as the daemon stops a container: the kernel deletes the veth pair

            up.append(timed(setup))
            hosts.append(host_end(endpoint.endpoint_id))
            down.append(timed(teardown))
    finally:
        for _ in range(100):  # the veth pairs of dropped namespaces go in the background
            if not any(name.startswith("dy-v") and name in os.listdir("/sys/class/net") for name in hosts):
                break
            time.sleep(0.05)
        driver.delete(links)
        shutil.rmtree(base, ignore_errors=True)
    return statistics.median(up) * 1000, statistics.median(down) * 1000


def modes(daemon: str) -> dict[str, tuple[str, ...]]:
    """The private dockerd has no default bridge (--bridge=none)."""
    return {mode: flags for mode, flags in MODES.items() if not (daemon == "docker" and mode == "bridge")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--docker", action="store_true", help="also measure the dockerd at $DOCKER_HOST")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="dy-bench-net-", dir="/var/tmp")
    daemon = DockyardDaemon(base)
    bootstrap_busybox(daemon.data_root)
    hosts = {"dockyard": daemon.host}
    times: dict[tuple[str, str], list[float]] = {}
    try:
        daemon.start()
        if args.docker:
            hosts["docker"] = docker_peer(daemon.host)
        for name, host in hosts.items():
            bridge = f"com.docker.network.bridge.name=dy-bn{secrets.token_hex(4)}"
            docker(host, "network", "create", "--subnet", SUBNETS[name], "-o", bridge, NETWORK)
        for _ in range(args.runs):
            for name, host in hosts.items():
                for mode, flags in modes(name).items():
                    elapsed = timed(lambda h=host, f=flags: docker(h, "run", "--rm", *f, "busybox", "true"))
                    times.setdefault((name, mode), []).append(elapsed)
    finally:
        for host in hosts.values():
            subprocess.run(["docker", "-H", host, "network", "rm", NETWORK], capture_output=True, check=False)
        daemon.stop()
        daemon.remove_network_objects()  # its bridges, veths, namespace handles and nftables table
        shutil.rmtree(base, ignore_errors=True)
    print(f"network setup, {args.runs} runs of `docker run --rm busybox true` per mode, "
          f"{time.strftime('%Y-%m-%d')}, {os.uname().release}, {os.cpu_count()} CPUs")  # fmt: skip
    for name in hosts:
        base_ms = statistics.median(times[(name, "none")]) * 1000
        for mode in modes(name):
            median = statistics.median(times[(name, mode)]) * 1000
            extra = f"   network adds {median - base_ms:+5.1f} ms" if mode != "none" else ""
            print(f"  {name:9s} {mode:13s} median {median:6.1f} ms{extra}")
    setup, teardown = kernel_setup_ms(args.runs)
    print(f"  kernel work of one bridge endpoint (in-process): setup median {setup:.1f} ms, "
          f"teardown {teardown:.1f} ms")  # fmt: skip
    if "docker" in hosts:
        for mode in modes("docker"):
            ratio = statistics.median(times[("dockyard", mode)]) / statistics.median(times[("docker", mode)])
            print(f"  ratio dockyard/docker {mode:13s} {ratio:.2f}")


if __name__ == "__main__":
    main()
