"""/containers/{id}/exec and /exec/{id}/...: create, start (streamed or detached; with a terminal, with input),
resize, inspect."""

from __future__ import annotations

import asyncio
import json
import os

from aiohttp import web

from dockyard.api import body_types, detach_keys
from dockyard.api.app import Routes, services_of
from dockyard.api.attach import terminal_size
from dockyard.api.detach_keys import DetachScanner
from dockyard.api.hijack import end_hijack, frame, hijack, hijacked_input
from dockyard.api.params import json_object
from dockyard.api.responses import json_response
from dockyard.errors import DockyardError
from dockyard.services.exec_console import ExecConsole, master_streams
from dockyard.services.execs import ExecRecord, ExecService

_CHUNK = 1 << 16
_LATE_MASTER_WAIT = 1.0  # seconds


def _execs(request: web.Request) -> ExecService:
    return services_of(request).execs


async def create(request: web.Request) -> web.Response:
    body = body_types.decode(await json_object(request), body_types.EXEC_CREATE, "ExecConfig")
    detach_keys.parse(body.get("DetachKeys"))  # refused now, as docker does, not at the start
    loop = asyncio.get_running_loop()
    record = await loop.run_in_executor(None, _execs(request).create, request.match_info["name"], body)
    return json_response({"Id": record.id}, status=201)


async def inspect(request: web.Request) -> web.Response:
    return json_response(_execs(request).inspect(request.match_info["id"]))


async def resize(request: web.Request) -> web.Response:
    rows, columns = terminal_size(request)
    _execs(request).resize(request.match_info["id"], rows, columns)
    return web.Response(status=200)


class _Output:
    """Where the exec's output goes: the hijacked stream while a client is attached, else nowhere."""

    def __init__(self, framed: bool) -> None:
        self.framed = framed
        self.response: web.StreamResponse | None = None

    async def write(self, stream: str, data: bytes) -> None:
        if self.response is None:
            return
        try:
            await self.response.write(frame(stream, data) if self.framed else data)
        except ConnectionError:
            self.response = None


async def start(request: web.Request) -> web.StreamResponse:
    """POST /exec/{id}/start: run the process; stream its output (and take its input) unless detached.

    As under dockerd: with a terminal the detach keys and the end of the client's input end the
    attach (the process goes on); without one, the end of the input closes the process's stdin.
    The output is framed unless the start request says Tty, whatever the exec was created with:
    dockerd decides so, and docker-py relies on it (a tty exec started with Tty false is framed).
    """
    execs = _execs(request)
    record = execs.get(request.match_info["id"])
    body = body_types.decode(await json_object(request), body_types.EXEC_START, "ExecStartCheck")
    tty = bool(record.config.get("Tty"))
    framed = not body.get("Tty")
    detached = bool(body.get("Detach"))
    with_input = bool(record.config.get("AttachStdin")) and not detached
    loop = asyncio.get_running_loop()
    console = ExecConsole(execs.containers.exec_root) if tty else None
    try:
        output = _Output(framed)
        # The upgrade is answered before the process starts, as dockerd does: output that reached the client
        # together with the 101 would end up in its HTTP parser's buffer, and docker-py reads the socket past it.
        response = None if detached else await hijack(request, tty=not framed)
        output.response = response
        # Taken now, before the next await: input (and its end) that comes while the process starts is kept.
        client_input = hijacked_input(request) if with_input else None
        try:
            runner = await _launch(
                execs, record, console and console.path, body.get("ConsoleSize"),
                with_stdin=with_input and not tty, with_outputs=not tty,
            )  # fmt: skip
        except DockyardError as exc:
            if response is None:
                raise
            return await _refused(request, response, execs, record, framed, exc)
        record.running = True
        report = await _status(runner.status)  # {"pid"} once the process runs; or at once why it never ran
        record.pid = report.get("pid", 0)
        if "pid" in report:
            outcome = asyncio.ensure_future(_status(runner.status))  # the exit
        else:
            outcome = loop.create_future()
            outcome.set_result(report)
        if console is not None:
            streams = await _terminal_streams(execs, record, console, outcome)
            runner.stdin, runner.outputs = (streams[1], [(streams[0], "stdout")]) if streams else (None, [])
    finally:
        if console is not None:
            console.close()
    stdin = runner.stdin
    work = _finish(execs, record, runner.outputs, outcome, output, stdin if tty else None)
    if response is None:
        record.task = loop.create_task(work)  # held by the record: a task nobody refers to may be collected
        return web.Response(status=200)
    finish = loop.create_task(work)
    if client_input is not None and stdin is not None:
        scanner = DetachScanner(detach_keys.parse(record.config.get("DetachKeys"))) if tty else None
        forward = loop.create_task(_forward_input(client_input, stdin, scanner, close_at_end=not tty))
        await asyncio.wait({finish, forward}, return_when=asyncio.FIRST_COMPLETED)
        if not forward.done():
            forward.cancel()
        elif forward.result():  # detached, or a terminal's input ended: the process goes on unwatched
            output.response = None
            return end_hijack(request, response)
    await asyncio.shield(finish)
    return end_hijack(request, response)


async def _refused(request: web.Request, response, execs: ExecService, record: ExecRecord, framed: bool, exc):
    """An exec that cannot start (its user is not in the image, it has run already): as dockerd, the
    attached client reads why in the stream it asked for (hijacked already), and the exec's exit code is 126."""
    message = f"{exc}\r\n".encode()
    await response.write(frame("stdout", message) if framed else message)
    if not record.running and record.exit_code is None:
        execs.finished(record, 126)
    return end_hijack(request, response)


class _Runner:
    """The exec's runner (dockyard.runtime.exec_process) as the daemon holds it: its status pipe, and
    pipes to the process's stdin and from its output (a terminal's are the pty master instead)."""

    def __init__(self, stdin, outputs: list[tuple[asyncio.StreamReader, str]], status: asyncio.StreamReader):
        self.stdin: asyncio.StreamWriter | None = stdin
        self.outputs = outputs
        self.status = status


async def _launch(
    execs: ExecService, record: ExecRecord, console_socket, console_size, *, with_stdin: bool, with_outputs: bool
) -> _Runner:
    """Start the runner (one hop to a worker thread); what it is not given a pipe for is /dev/null."""
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    stdin = os.pipe() if with_stdin else None
    outputs = [os.pipe(), os.pipe()] if with_outputs else []
    status = os.pipe()
    theirs = [stdin[0] if stdin else devnull, *([w for _, w in outputs] or [devnull, devnull]), status[1]]
    ours = [*([stdin[1]] if stdin else []), *(r for r, _ in outputs), status[0]]
    try:
        await asyncio.get_running_loop().run_in_executor(
            None, execs.start, record, tuple(theirs), console_socket, console_size
        )
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in set(theirs):
            os.close(fd)
    writer = await _writer(stdin[1]) if stdin else None
    readers = [(await _reader(r), name) for (r, _), name in zip(outputs, ("stdout", "stderr"), strict=False)]
    return _Runner(writer, readers, await _reader(status[0]))


async def _reader(fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    pipe = os.fdopen(fd, "rb", buffering=0)
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader


async def _writer(fd: int) -> asyncio.StreamWriter:
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(fd, "wb", buffering=0)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, pipe)
    return asyncio.StreamWriter(transport, protocol, None, loop)


async def _status(status: asyncio.StreamReader) -> dict:
    """The runner's next report: {"pid"}, then {"code"}; or only {"error"}; {} if it died first."""
    try:
        return json.loads(await status.readline() or b"{}")
    except ValueError:
        return {}


async def _terminal_streams(execs: ExecService, record: ExecRecord, console: ExecConsole, outcome: asyncio.Future):
    """The pty master's streams once the runtime sends it; None if the runner reported first (it failed)."""
    receiving = asyncio.ensure_future(console.receive())
    await asyncio.wait({receiving, outcome}, return_when=asyncio.FIRST_COMPLETED)
    if not receiving.done():
        # A short process may end (and the runtime with it) before the master it sent is taken off the
        # socket: it is there already then. A runtime that failed before sending it never connected.
        await asyncio.wait({receiving}, timeout=_LATE_MASTER_WAIT)
    if not receiving.done():
        receiving.cancel()
        return None
    master = receiving.result()
    execs.attach_terminal(record, master)  # the record keeps it for resizes, and closes it at the exit
    return await master_streams(master)


async def _forward_input(reader: asyncio.StreamReader, stdin: asyncio.StreamWriter, scanner, *, close_at_end: bool):
    """Copy the client's input to the process; True if the attach ends with it."""
    try:
        while data := await reader.read(_CHUNK):
            detached = False
            if scanner is not None:
                data, detached = scanner.feed(data)
            if data:
                stdin.write(data)
                await stdin.drain()
            if detached:
                return True
        if close_at_end:
            stdin.close()
            return False
        return True
    except ConnectionError:  # the process closed its input: what the client sends goes nowhere
        return False


async def _finish(
    execs: ExecService, record: ExecRecord, outputs, outcome: asyncio.Future, output: _Output, terminal_input
) -> None:
    """Copy the output to the client (while there is one), wait for the exit and record it."""

    async def pump(reader: asyncio.StreamReader, stream: str) -> None:
        try:
            while data := await reader.read(_CHUNK):
                await output.write(stream, data)
        except OSError:  # EIO: a pty whose processes have all exited
            pass

    await asyncio.gather(*(pump(reader, stream) for reader, stream in outputs))
    if terminal_input is not None:
        terminal_input.close()  # the pty master's last copy
    result = await outcome
    # No outcome: the runner died (killed with the container): docker reports such an exec as 126 too.
    failure = result.get("error") if "code" in result else result.get("error", "the exec's runner died")
    code = result.get("code", 126)
    if failure is not None:
        # The process never ran: docker's codes for that, and the reason where the user looks.
        code = 127 if "not found" in failure or "no such file or directory" in failure else 126
        await output.write("stderr", f"OCI runtime exec failed: {failure}\n".encode())
    execs.finished(record, code)


def register(routes: Routes) -> None:
    routes.add("POST", r"/containers/{name:.+}/exec", create)
    routes.add("POST", "/exec/{id}/start", start)
    routes.add("GET", "/exec/{id}/json", inspect)
    routes.add("POST", "/exec/{id}/resize", resize)
