"""A tiny traffic probe run inside test network namespaces (`ip netns exec NS python netprobe.py ...`).

    netprobe.py serve tcp|udp PORT NAME   answer every connection/datagram with "NAME <peer address>" (IPv4 and 6)
    netprobe.py ask tcp|udp HOST PORT     print the answer; exit 1 when none comes within 2 seconds
    netprobe.py sink PORT                 accept TCP connections and read them to the end
    netprobe.py blast HOST PORT MIB       send MIB mebibytes over one TCP connection; print the seconds

Servers print "ready" once bound, so the caller knows when to ask.
"""

from __future__ import annotations

import socket
import sys
import time

TIMEOUT = 2.0
CHUNK = 1 << 20


def plain(address: str) -> str:
    """The peer as the client addressed it: IPv4 peers of the dual-stack socket come as ::ffff:a.b.c.d."""
    return address.removeprefix("::ffff:")


def serve(proto: str, port: int, name: str) -> None:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET6, kind) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        server.bind(("::", port))
        if proto == "tcp":
            server.listen(16)
        print("ready", flush=True)
        while True:
            if proto == "tcp":
                conn, peer = server.accept()
                with conn:
                    conn.sendall(f"{name} {plain(peer[0])}".encode())
            else:
                _, peer = server.recvfrom(64)
                server.sendto(f"{name} {plain(peer[0])}".encode(), peer)


def ask(proto: str, host: str, port: int) -> str | None:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as client:
        client.settimeout(TIMEOUT)
        try:
            if proto == "tcp":
                client.connect((host, port))
                return client.recv(256).decode()
            client.sendto(b"?", (host, port))
            return client.recvfrom(256)[0].decode()
        except OSError:
            return None


def sink(port: int) -> None:
    buffer = bytearray(CHUNK)
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", port))
        server.listen(4)
        print("ready", flush=True)
        while True:
            conn, _ = server.accept()
            with conn:
                while conn.recv_into(buffer):
                    pass
                conn.sendall(b"done")


def blast(host: str, port: int, mib: int) -> float:
    """Seconds from connect until the sink confirms it read everything."""
    payload = bytes(CHUNK)
    with socket.create_connection((host, port), timeout=30) as client:
        start = time.perf_counter()
        for _ in range(mib):
            client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        client.recv(16)
        return time.perf_counter() - start


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif command == "sink":
        sink(int(sys.argv[2]))
    elif command == "blast":
        print(blast(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    else:
        answer = ask(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        if answer is None:
            sys.exit(1)
        print(answer)
