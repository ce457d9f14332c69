"""/containers/{id}/exec and /exec/{id}/...: create, start (streamed or detached), inspect."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile

from aiohttp import web

from dockyard.api.app import Routes, services_of
from dockyard.api.hijack import end_hijack, frame, hijack
from dockyard.api.params import json_object
from dockyard.api.responses import json_response
from dockyard.errors import InvalidParameter
from dockyard.services.execs import ExecRecord, ExecService

_CHUNK = 1 << 16


def _execs(request: web.Request) -> ExecService:
    return services_of(request).execs


async def create(request: web.Request) -> web.Response:
    body = await json_object(request)
    loop = asyncio.get_running_loop()
    record = await loop.run_in_executor(None, _execs(request).create, request.match_info["name"], body)
    return json_response({"Id": record.id}, status=201)


async def inspect(request: web.Request) -> web.Response:
    return json_response(_execs(request).inspect(request.match_info["id"]))


async def start(request: web.Request) -> web.StreamResponse:
    execs = _execs(request)
    record = execs.get(request.match_info["id"])
    body = await json_object(request)
    if body.get("Tty"):
        raise InvalidParameter("exec with a terminal (-t) is not supported yet")
    loop = asyncio.get_running_loop()
    # The runtime's own errors go to a log of their own, so that they can be told from the process's output.
    log_fd, log_path = tempfile.mkstemp(prefix="dy-exec-", suffix=".log")
    os.close(log_fd)
    command = await loop.run_in_executor(None, execs.command, record, log_path)
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    record.running, record.pid = True, process.pid
    if body.get("Detach"):
        asyncio.get_running_loop().create_task(_finish(execs, record, process, log_path, None))
        return web.Response(status=200)
    response = await hijack(request, tty=False)
    await _finish(execs, record, process, log_path, response)
    return end_hijack(request, response)


async def _finish(execs: ExecService, record: ExecRecord, process, log_path: str, response) -> None:
    """Copy the output to the stream (if any), wait for the exit and record it."""

    async def pump(reader: asyncio.StreamReader, stream: str) -> None:
        while data := await reader.read(_CHUNK):
            if response is not None:
                try:
                    await response.write(frame(stream, data))
                except ConnectionError:
                    response_gone.set()

    response_gone = asyncio.Event()
    await asyncio.gather(pump(process.stdout, "stdout"), pump(process.stderr, "stderr"))
    code = await process.wait()
    failure = _runtime_error(log_path)
    if failure is not None:
        # The process never ran: docker's codes for that, and the reason where the user looks.
        code = 127 if "not found" in failure else 126
        if response is not None and not response_gone.is_set():
            try:
                await response.write(frame("stderr", f"OCI runtime exec failed: {failure}\n".encode()))
            except ConnectionError:
                pass
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
