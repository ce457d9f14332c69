"""Benchmark: the embedded DNS server's latency and throughput, beside dnsmasq.

Dockyard's EmbeddedDns serves a scratch network namespace (dy-dnsbench-…) from an
event loop in this process, with a backend of --names container names; the client
asks from inside the namespace. The peer is dnsmasq (Debian's dnsmasq-base), a C
forwarder, on 127.0.0.1 and a free port of the host, answering the same names from
a hosts file with its cache off (docker's resolver and ours do not cache). Both
forward other names to the same fake upstream on 127.0.0.26. Docker's own embedded
DNS is not measured: it needs iptables rules in the host's tables and a
docker-made bridge, which these shared machines must not get.

    .venv/bin/python bench/dns.py [--queries 2000] [--names 200]

Figures: median latency of one UDP query (a container name; a forwarded name),
queries per second with 32 in flight, and the cost of serve() (opening the two
sockets inside a namespace: part of a container's network setup).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from dnslib import DNSRecord

from dockyard.kernel.netns import run_in_netns
from dockyard.network.dns import EmbeddedDns
from support.dns import FakeBackend, FakeUpstream, LoopThread, scratch_netns

CONTAINER = "bench"
WINDOW = 32


def query_packet(name: str, ident: int) -> bytes:
    record = DNSRecord.question(name)
    record.header.id = ident
    return record.pack()


def latencies(sock: socket.socket, server: tuple[str, int], name: str, count: int) -> list[float]:
    times = []
    for n in range(count):
        packet = query_packet(name, n & 0xFFFF)
        began = time.perf_counter()
        sock.sendto(packet, server)
        sock.recv(4096)
        times.append(time.perf_counter() - began)
    return times


def throughput(sock: socket.socket, server: tuple[str, int], name: str, count: int) -> float:
    """Queries answered per second with WINDOW in flight; lost ones are not counted."""
    answered = 0
    began = time.perf_counter()
    for start in range(0, count, WINDOW):
        burst = range(start, min(start + WINDOW, count))
        for n in burst:
            sock.sendto(query_packet(name, n & 0xFFFF), server)
        try:
            for _ in burst:
                sock.recv(4096)
                answered += 1
        except TimeoutError:
            pass
    return answered / (time.perf_counter() - began)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_dnsmasq(base: str, names: dict[str, str], upstream_port: int) -> tuple[subprocess.Popen, int] | None:
    binary = shutil.which("dnsmasq", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if binary is None:
        return None
    hosts = os.path.join(base, "hosts")
    with open(hosts, "w") as f:
        f.writelines(f"{address} {name}\n" for name, address in names.items())
    port = free_port()
    process = subprocess.Popen(
        [binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
         f"--addn-hosts={hosts}", "--listen-address=127.0.0.1", "--bind-interfaces", f"--port={port}",
         f"--server=127.0.0.26#{upstream_port}", "--cache-size=0", "--pid-file=", "--user=root"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)
    if process.poll() is not None:
        return None
    return process, port


def measure(sock: socket.socket, server: tuple[str, int], args: argparse.Namespace) -> dict[str, float]:
    latencies(sock, server, "c1", 50)  # warm up
    return {
        "name (us)": statistics.median(latencies(sock, server, "c1", args.queries)) * 1e6,
        "forwarded (us)": statistics.median(latencies(sock, server, "outside.test", args.queries // 4)) * 1e6,
        "name qps": throughput(sock, server, "c1", args.queries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--names", type=int, default=200)
    args = parser.parse_args()

    names = {f"c{n}": f"172.30.{n // 250}.{n % 250 + 2}" for n in range(args.names)}
    backend = FakeBackend()
    for name, address in names.items():
        backend.add(CONTAINER, name, address)
    loop = LoopThread()
    upstream = loop.run(FakeUpstream("127.0.0.26", {"outside.test": ["192.0.2.7"]}).start())
    backend.upstream_servers[CONTAINER] = [upstream.upstream]
    dns = EmbeddedDns(backend)
    rows: dict[str, dict[str, float]] = {}
    base = tempfile.mkdtemp(prefix="dy-dnsbench-")
    dnsmasq = None
    try:
        with scratch_netns() as netns:
            setup = []
            for _ in range(50):
                began = time.perf_counter()
                loop.run(dns.serve(CONTAINER, netns))
                setup.append(time.perf_counter() - began)
            with run_in_netns(netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as sock:
                sock.settimeout(2)
                rows["dockyard"] = measure(sock, ("127.0.0.11", 53), args)
            loop.run(dns.close())
        dnsmasq = start_dnsmasq(base, names, upstream.port)
        if dnsmasq is not None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(2)
                rows["dnsmasq"] = measure(sock, ("127.0.0.1", dnsmasq[1]), args)
    finally:
        if dnsmasq is not None:
            dnsmasq[0].terminate()
            dnsmasq[0].wait(10)
        loop.run(dns.close())
        loop.run(upstream.close())
        loop.close()
        shutil.rmtree(base, ignore_errors=True)

    columns = list(rows["dockyard"])
    print(f"{'':10}" + "".join(f"{c:>16}" for c in columns))
    for peer, figures in rows.items():
        print(f"{peer:10}" + "".join(f"{figures[c]:>16.0f}" for c in columns))
    if "dnsmasq" in rows:
        ratios = [rows["dockyard"][c] / rows["dnsmasq"][c] for c in columns]
        print(f"{'ratio':10}" + "".join(f"{r:>16.2f}" for r in ratios))
    else:
        print("dnsmasq not installed (apt-get install dnsmasq-base): no peer figures")
    print(f"serve() in a namespace: median {statistics.median(setup) * 1e3:.2f} ms over {len(setup)}")
    print(f"{args.queries} queries, {args.names} names")


if __name__ == "__main__":
    main()
