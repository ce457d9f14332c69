"""A tiny traffic probe run inside test network namespaces (`ip netns exec NS python netprobe.py ...`).

    netprobe.py serve tcp|udp PORT NAME   answer every connection/datagram with "NAME <peer address>"
    netprobe.py ask tcp|udp HOST PORT     print the answer; exit 1 when none comes within 2 seconds

Servers print "ready" once bound, so the test knows when to ask.
"""

from __future__ import annotations

import socket
import sys

TIMEOUT = 2.0


def serve(proto: str, port: int, name: str) -> None:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", port))
        if proto == "tcp":
            server.listen(16)
        print("ready", flush=True)
        while True:
            if proto == "tcp":
                conn, peer = server.accept()
                with conn:
                    conn.sendall(f"{name} {peer[0]}".encode())
            else:
                _, peer = server.recvfrom(64)
                server.sendto(f"{name} {peer[0]}".encode(), peer)


def ask(proto: str, host: str, port: int) -> str | None:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as client:
        client.settimeout(TIMEOUT)
        try:
            if proto == "tcp":
                client.connect((host, port))
                return client.recv(256).decode()
            client.sendto(b"?", (host, port))
            return client.recvfrom(256)[0].decode()
        except OSError:
            return None


if __name__ == "__main__":
    command, proto = sys.argv[1], sys.argv[2]
    if command == "serve":
        serve(proto, int(sys.argv[3]), sys.argv[4])
    else:
        answer = ask(proto, sys.argv[3], int(sys.argv[4]))
        if answer is None:
            sys.exit(1)
        print(answer)
