"""/containers/{id}/exec and /exec/{id}/...: create, start (streamed or detached; with a terminal, with input),
resize, inspect."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile

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
    # The runtime's own errors go to a log of their own, so that they can be told from the process's output.
    log_fd, log_path = tempfile.mkstemp(prefix="dy-exec-", suffix=".log")
    os.close(log_fd)
    console = ExecConsole(execs.containers.exec_root) if tty else None
    try:
        try:
            command = await loop.run_in_executor(
                None, execs.command, record, log_path, console and console.path, body.get("ConsoleSize")
            )
        except DockyardError as exc:
            os.unlink(log_path)
            if detached:
                raise
            return await _refused(request, execs, record, framed, exc)
        pipe, devnull = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=pipe if with_input and not tty else devnull,
            stdout=devnull if tty else pipe,
            stderr=devnull if tty else pipe,
        )
        record.running, record.pid = True, process.pid
        streams = await _terminal_streams(execs, record, console, process) if console else None
    finally:
        if console is not None:
            console.close()
    if tty:
        stdin, outputs = (streams[1], [(streams[0], "stdout")]) if streams else (None, [])
    else:
        stdin, outputs = process.stdin, [(process.stdout, "stdout"), (process.stderr, "stderr")]
    output = _Output(framed)
    work = _finish(execs, record, process, outputs, log_path, output, stdin if tty else None)
    if detached:
        record.task = loop.create_task(work)  # held by the record: a task nobody refers to may be collected
        return web.Response(status=200)
    output.response = response = await hijack(request, tty=not framed)  # before the first read: no output is lost
    finish = loop.create_task(work)
    if with_input and stdin is not None:
        scanner = DetachScanner(detach_keys.parse(record.config.get("DetachKeys"))) if tty else None
        forward = loop.create_task(_forward_input(hijacked_input(request), stdin, scanner, close_at_end=not tty))
        await asyncio.wait({finish, forward}, return_when=asyncio.FIRST_COMPLETED)
        if not forward.done():
            forward.cancel()
        elif forward.result():  # detached, or a terminal's input ended: the process goes on unwatched
            output.response = None
            return end_hijack(request, response)
    await asyncio.shield(finish)
    return end_hijack(request, response)


async def _refused(request: web.Request, execs: ExecService, record: ExecRecord, framed: bool, exc: Exception):
    """An exec that cannot start (its user is not in the image, it has run already): as dockerd, the
    attached client reads why in the stream it asked for, and the exec's exit code is 126."""
    response = await hijack(request, tty=not framed)
    message = f"{exc}\r\n".encode()
    await response.write(frame("stdout", message) if framed else message)
    if not record.running and record.exit_code is None:
        execs.finished(record, 126)
    return end_hijack(request, response)


async def _terminal_streams(execs: ExecService, record: ExecRecord, console: ExecConsole, process):
    """The pty master's streams once the runtime sends it; None if the runtime exited first (it failed)."""
    receiving = asyncio.ensure_future(console.receive())
    exited = asyncio.ensure_future(process.wait())
    await asyncio.wait({receiving, exited}, return_when=asyncio.FIRST_COMPLETED)
    if not receiving.done():
        # A short process may end (and the runtime with it) before the master it sent is taken off the
        # socket: it is there already then. A runtime that failed before sending it never connected.
        await asyncio.wait({receiving}, timeout=_LATE_MASTER_WAIT)
    if not receiving.done():
        receiving.cancel()
        return None
    exited.cancel()
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
    execs: ExecService, record: ExecRecord, process, outputs, log_path: str, output: _Output, terminal_input
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
    code = await process.wait()
    failure = _runtime_error(log_path)
    if failure is not None:
        # The process never ran: docker's codes for that, and the reason where the user looks.
        code = 127 if "not found" in failure else 126
        await output.write("stderr", f"OCI runtime exec failed: {failure}\n".encode())
    execs.finished(record, code)


def _runtime_error(log_path: str) -> str | None:
    try:
        with open(log_path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        lines = []
    finally:
        try:
            os.unlink(log_path)
        except FileNotFoundError:
            pass
    errors = [line["msg"] for line in lines if line.get("level") == "error"]
    return errors[-1] if errors else None


def register(routes: Routes) -> None:
    routes.add("POST", "/containers/{name}/exec", create)
    routes.add("POST", "/exec/{id}/start", start)
    routes.add("GET", "/exec/{id}/json", inspect)
    routes.add("POST", "/exec/{id}/resize", resize)
