"""The userland proxy relays TCP (with half-close) and UDP flows over loopback, and lets go of the port on stop."""

from __future__ import annotations

import socket
import threading

import pytest

from dockyard.network.proxy import UserlandProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy():
    relay = UserlandProxy()
    yield relay
    relay.close()


def tcp_upstream() -> tuple[socket.socket, int]:
    """A server that reads a connection to its end, then answers the bytes upper-cased and closes."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def listening_v6(kind=socket.SOCK_STREAM) -> socket.socket:
    host = socket.socket(socket.AF_INET6, kind)
    host.bind(("::1", 0))
    if kind == socket.SOCK_STREAM:
        host.listen()
    return host


def test_tcp_is_relayed_across_families_with_half_close(proxy):
    server, port = tcp_upstream()
    with server, listening_v6() as host:
        proxy.start(host, ("127.0.0.1", port))
        payload = b"published " * 100_000
        with socket.create_connection(("::1", host.getsockname()[1]), timeout=10) as client:
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
        assert answer == payload.upper()


def test_stop_lets_go_of_the_port(proxy):
    server, port = tcp_upstream()
    with server:
        host = listening_v6()
        host_port = host.getsockname()[1]
        proxy.start(host, ("127.0.0.1", port))
        proxy.stop(host)
        host.close()
        with socket.socket(socket.AF_INET6) as again:
            again.bind(("::1", host_port))


def test_udp_flows_are_relayed_and_answered_to_each_client(proxy):
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind(("127.0.0.1", 0))

    def pong():
        while True:
            try:
                data, peer = upstream.recvfrom(512)
            except OSError:
                return
            upstream.sendto(b"pong " + data, peer)

    threading.Thread(target=pong, daemon=True).start()
    with upstream, listening_v6(socket.SOCK_DGRAM) as host:
        proxy.start(host, upstream.getsockname())
        clients = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(2)]
        try:
            for n, client in enumerate(clients):
                client.settimeout(5)
                for round_ in range(2):
                    client.sendto(f"{n}.{round_}".encode(), host.getsockname()[:2])
                    assert client.recvfrom(512)[0] == f"pong {n}.{round_}".encode()
        finally:
            for client in clients:
                client.close()
