"""Terminals, input and detaching, as people use them: the real docker CLI and `dockyard` on a pty of the test's own,
docker-py's sockets, raw hijacked connections, and a daemon killed with -9 under an attached shell."""

from __future__ import annotations

import json
import signal
import socket
import struct
import subprocess
import time

import pytest

from support.terminal import Terminal

PROMPT = r"/ # "


def _running(d, name: str) -> bool:
    return json.loads(d.docker("inspect", name).stdout)[0]["State"]["Running"]


def _size_settles(term: Terminal, wanted: bytes, timeout: float = 10) -> bool:
    """Whether `stty size` in the terminal shows wanted within timeout (the CLI resizes asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        term.type("stty size\r")
        if term.expect(r"\r\n(\d+ \d+)\r\n").group(1) == wanted:
            return True
        time.sleep(0.1)
    return False


def test_run_it_runs_a_shell_typed_into_and_exits_with_its_code(cli):
    with Terminal(cli.argv("run", "-it", "--rm", "busybox", "sh"), env=cli.env, rows=30, columns=100) as term:
        term.expect(PROMPT)
        term.type("echo $((6 * 7)); tty; stty size\r")
        term.expect(r"42\r\n/dev/pts/0\r\n30 100\r\n")
        term.type("exit 3\r")
        assert term.wait() == 3


def test_run_it_loses_nothing_a_container_writes_at_once(cli):
    command = cli.argv("run", "-it", "--rm", "busybox", "sh", "-c", "seq 1 3000; exit 4")
    with Terminal(command, env=cli.env) as term:
        assert term.wait() == 4
        lines = term.expect(r"(?s)^(.*)$").group(1).split(b"\r\n")
    assert lines[:3] == [b"1", b"2", b"3"] and lines[2999] == b"3000"


def test_start_ai_attaches_a_terminal_before_the_start(cli):
    cli("create", "-it", "--name", "dy-tty-start", "busybox", "sh", "-c", "read word; echo got $word; exit 6")
    try:
        with Terminal(cli.argv("start", "-ai", "dy-tty-start"), env=cli.env) as term:
            term.type("typed\r")
            term.expect(r"got typed\r\n")
            assert term.wait() == 6
    finally:
        cli("rm", "-f", "dy-tty-start")


def test_ctrl_p_ctrl_q_detaches_and_attach_resumes_with_the_new_window_size(busybox_daemon, cli):
    d = busybox_daemon
    with Terminal(cli.argv("run", "-it", "--name", "dy-tty-detach", "busybox", "sh"), env=cli.env) as term:
        term.expect(PROMPT)
        term.type("echo before\r")
        term.expect("before")
        term.type("\x10\x11")
        assert term.wait() == 0
    assert _running(d, "dy-tty-detach")
    with Terminal(cli.argv("attach", "dy-tty-detach"), env=cli.env, rows=20, columns=60) as term:
        term.type("echo back $((1 + 1))\r")
        term.expect("back 2")
        term.type("stty size\r")
        term.expect(r"20 60\r\n")
        term.resize(11, 50)  # the CLI gets SIGWINCH and posts /resize
        assert _size_settles(term, b"11 50")
        term.type("exit 5\r")
        assert term.wait() == 5
    assert cli("inspect", "-f", "{{.State.ExitCode}}", "dy-tty-detach").stdout.strip() == "5"
    # The log holds the terminal's raw output, prompt and all, as docker's does.
    assert b"back 2\r\n" in cli("logs", "dy-tty-detach", text=False).stdout
    cli("rm", "dy-tty-detach")


def test_exec_it_gets_a_terminal_of_its_own_sized_and_resized(cli):
    cli("run", "-d", "--name", "dy-tty-exec", "busybox", "sleep", "300")
    try:
        with Terminal(cli.argv("exec", "-it", "dy-tty-exec", "sh"), env=cli.env, rows=33, columns=99) as term:
            term.expect(PROMPT)
            term.type("tty; stty size\r")
            term.expect(r"/dev/pts/\d+\r\n33 99\r\n")
            term.resize(12, 40)
            assert _size_settles(term, b"12 40")
            term.type("exit 7\r")
            assert term.wait() == 7
    finally:
        cli("rm", "-f", "dy-tty-exec")


def test_piped_input_reaches_run_exec_and_start(cli):
    assert cli("run", "-i", "--rm", "busybox", "cat", input="hi\n").stdout == "hi\n"
    counted = cli("run", "-i", "--rm", "busybox", "wc", "-c", input="y" * 1_000_000).stdout
    assert counted.strip() == "1000000"  # more than the shim queues: the client is pushed back, nothing is lost
    cli("run", "-d", "--name", "dy-stdin-exec", "busybox", "sleep", "300")
    try:
        assert cli("exec", "-i", "dy-stdin-exec", "cat", input="through exec\n").stdout == "through exec\n"
        counted = cli("exec", "-i", "dy-stdin-exec", "wc", "-c", input="x" * 300_000).stdout
        assert counted.strip() == "300000"  # more than any pipe holds: input is pushed back, not lost
    finally:
        cli("rm", "-f", "dy-stdin-exec")
    cli("create", "-i", "--name", "dy-start-ai", "busybox", "sh", "-c", "read line; echo got $line; exit 4")
    started = cli("start", "-ai", "dy-start-ai", input="it\n", check=False)
    assert (started.returncode, started.stdout) == (4, "got it\n")
    cli("rm", "dy-start-ai")


def test_detach_keys_flag_leaves_the_container_running(busybox_daemon, cli):
    command = cli.argv("run", "-it", "--detach-keys", "ctrl-a,x", "--name", "dy-tty-mykeys", "busybox", "sh")
    try:
        with Terminal(command, env=cli.env) as term:
            term.expect(PROMPT)
            term.type("\x10\x11echo still here\r")  # docker's default keys mean nothing now
            term.expect("still here")
            term.type("\x01x")
            assert term.wait() == 0
        assert _running(busybox_daemon, "dy-tty-mykeys")
    finally:
        cli("rm", "-f", "dy-tty-mykeys")


def test_sig_proxy_passes_sigterm_to_a_container_run_without_a_tty(cli):
    script = "trap 'echo got TERM; exit 9' TERM; echo ready; while true; do sleep 0.1; done"
    argv = cli.argv("run", "--rm", "--name", "dy-sig-proxy", "busybox", "sh", "-c", script)
    process = subprocess.Popen(argv, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGTERM)  # ours: we started it
        out, _ = process.communicate(timeout=30)
        assert (process.returncode, out) == (9, "got TERM\n")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        cli("rm", "-f", "dy-sig-proxy", check=False)


def _frames(sock: socket.socket, until: bytes, timeout: float = 20) -> bytes:
    """The payloads of docker's multiplexed frames until they hold `until`."""
    sock.settimeout(timeout)
    data, payload = b"", b""
    while until not in payload:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        while len(data) >= 8 and len(data) >= 8 + struct.unpack(">xxxxI", data[:8])[0]:
            length = struct.unpack(">xxxxI", data[:8])[0]
            payload += data[8 : 8 + length]
            data = data[8 + length :]
    return payload


def test_docker_py_exec_and_attach_sockets_carry_input(busybox_daemon):
    client = busybox_daemon.client()
    container = client.containers.run("busybox", ["cat"], stdin_open=True, detach=True, name="dy-py-stdin")
    try:
        exec_socket = container.exec_run(["cat"], stdin=True, socket=True).output
        raw = exec_socket._sock
        raw.sendall(b"to exec\n")
        raw.shutdown(socket.SHUT_WR)  # the end of the input closes cat's stdin: it exits
        assert _frames(raw, b"to exec\n") == b"to exec\n"
        raw.close()
        attached = client.api.attach_socket(container.id, params={"stdin": 1, "stdout": 1, "stream": 1})
        raw = attached._sock
        raw.sendall(b"to the container\n")
        assert _frames(raw, b"to the container\n") == b"to the container\n"
        raw.close()
        container.reload()
        assert container.status == "running"  # an attach ending never stops the container
    finally:
        container.remove(force=True)
        client.close()


def test_the_websocket_attach_carries_input_and_output(busybox_daemon):
    import asyncio

    import aiohttp

    d = busybox_daemon
    d.docker("run", "-di", "--name", "dy-ws", "busybox", "sh", "-c", "while read line; do echo ws $line; done")

    async def exchange() -> bytes:
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=d.socket)) as session:
            url = "http://docker/v1.50/containers/dy-ws/attach/ws?stream=1&stdin=1&stdout=1"
            async with session.ws_connect(url) as socket:
                await socket.send_bytes(b"hello\n")
                message = await asyncio.wait_for(socket.receive(), 20)
                return message.data

    try:
        assert asyncio.run(exchange()) == b"ws hello\n"
        assert _running(d, "dy-ws")
    finally:
        d.docker("rm", "-f", "dy-ws")


def _raw_attach(d, name: str, query: str) -> tuple[socket.socket, bytes]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(20)
    sock.connect(d.socket)
    sock.sendall(
        f"POST /v1.50/containers/{name}/attach?{query} HTTP/1.1\r\nHost: docker\r\n"
        "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    return sock, head


def _read_until(sock: socket.socket, wanted: bytes) -> bytes:
    seen = b""
    while wanted not in seen:
        chunk = sock.recv(65536)
        if not chunk:
            break
        seen += chunk
    return seen


def test_a_prompt_that_ends_no_line_reaches_an_attached_client(busybox_daemon):
    d = busybox_daemon
    d.docker("run", "-di", "--name", "dy-prompt", "busybox", "sh", "-c", 'printf "Name? "; read n; echo "hi $n"')
    try:
        sock, _ = _raw_attach(d, "dy-prompt", "stream=1&stdin=1&stdout=1&stderr=1")
        assert _frames(sock, b"Name? ") == b"Name? "  # before any input: the prompt is shown at once
        sock.sendall(b"bob\n")
        assert _frames(sock, b"hi bob\n") == b"hi bob\n"
        sock.close()
    finally:
        d.docker("rm", "-f", "dy-prompt")


def test_attach_with_logs_replays_what_was_written(busybox_daemon):
    d = busybox_daemon
    d.docker("run", "--name", "dy-replay", "busybox", "sh", "-c", "echo one; echo two >&2")
    try:
        # Over a raw socket: docker-py reads the 101's headers through a buffer and the stream from
        # the socket beneath it, so a stream that follows the headers at once can be lost to it.
        sock, head = _raw_attach(d, "dy-replay", "logs=1&stdout=1&stderr=1")
        assert head.startswith(b"HTTP/1.1 101")
        assert _frames(sock, b"\0never") == b"one\ntwo\n"  # to the end of the stream
        sock.close()
    finally:
        d.docker("rm", "dy-replay")


def test_the_daemon_detaches_on_the_keys_the_client_chose(busybox_daemon):
    d = busybox_daemon
    d.docker("run", "-dit", "--name", "dy-tty-keys", "busybox", "sh")
    try:
        sock, head = _raw_attach(d, "dy-tty-keys", "stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-a,x")
        assert head.startswith(b"HTTP/1.1 101")
        sock.sendall(b"echo raw $((2 + 3))\r")
        assert b"raw 5" in _read_until(sock, b"raw 5")
        sock.sendall(b"\x01x")
        rest = _read_until(sock, b"\0never")  # the daemon ends the stream: EOF
        assert b"\x01" not in rest
        sock.close()
        assert _running(d, "dy-tty-keys")
        status, _, body = d.request("POST", "/v1.50/containers/dy-tty-keys/attach?stream=1&stdin=1&detachKeys=ctrl-9")
        assert (status, json.loads(body)["message"]) == (400, "Invalid detach keys (ctrl-9) provided")
        status, _, body = d.request("POST", "/v1.50/containers/dy-tty-keys/resize?h=x&w=10")
        assert status == 400
        assert d.request("POST", "/v1.50/containers/dy-tty-keys/resize?h=30&w=100")[0] == 200
        events = d.docker("events", "--since", "0", "--until", str(int(time.time()) + 1), "--filter",
                          "container=dy-tty-keys", "--format", "{{.Action}}").stdout.split()  # fmt: skip
        assert {"attach", "detach", "resize"} <= set(events)
    finally:
        d.docker("rm", "-f", "dy-tty-keys")


@pytest.mark.parametrize("interactive", ["-dit", "-di"])
def test_input_still_reaches_a_container_after_the_daemon_is_killed(busybox_daemon, interactive):
    d = busybox_daemon
    command = ["sh"] if interactive == "-dit" else ["sh", "-c", "while read line; do echo got $line; done"]
    d.docker("run", interactive, "--name", "dy-survivor-tty", "busybox", *command)
    try:
        d.process.kill()  # ours: the fixture started it
        d.process.wait()
        d.start()
        sock, head = _raw_attach(d, "dy-survivor-tty", "stream=1&stdin=1&stdout=1&stderr=1")
        assert head.startswith(b"HTTP/1.1 101")
        if interactive == "-dit":
            sock.sendall(b"echo alive $((40 + 2))\r")
            assert b"alive 42" in _read_until(sock, b"alive 42")
        else:
            sock.sendall(b"ping\n")
            assert _frames(sock, b"got ping") == b"got ping\n"
        sock.close()
    finally:
        d.docker("rm", "-f", "dy-survivor-tty")


def test_it_without_a_terminal_is_refused_before_anything_is_created(busybox_daemon, cli):
    before = busybox_daemon.docker("ps", "-aq").stdout
    refused = cli("run", "-it", "--name", "dy-no-tty", "busybox", "true", input="", check=False)
    assert (refused.returncode, refused.stderr.strip()) == (1, "the input device is not a TTY")
    assert busybox_daemon.docker("ps", "-aq").stdout == before
    cli("run", "-d", "--name", "dy-no-tty-exec", "busybox", "sleep", "300")
    try:
        refused = cli("exec", "-it", "dy-no-tty-exec", "true", input="", check=False)
        assert (refused.returncode, refused.stderr.strip()) == (1, "the input device is not a TTY")
    finally:
        cli("rm", "-f", "dy-no-tty-exec")
