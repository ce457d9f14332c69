"""/containers/{id}/exec and /exec/{id}/...: create, start (streamed or detached), inspect."""

from __future__ import annotations

import asyncio
import json
import os

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
    prepared = await loop.run_in_executor(None, execs.prepare, record)  # a Conflict is still an HTTP error
    # The upgrade is answered before the process starts, as dockerd does: output that reached the client
    # together with the 101 would end up in its HTTP parser's buffer, and docker-py reads the socket past it.
    response = None if body.get("Detach") else await hijack(request, tty=False)
    pipes = [os.pipe() for _ in range(3)]  # stdout, stderr, status (dockyard.runtime.exec_process)
    try:
        await loop.run_in_executor(None, execs.launch, prepared, *(w for _, w in pipes))
    except BaseException:
        for r, _ in pipes:
            os.close(r)
        raise
    finally:
        for _, w in pipes:
            os.close(w)
    stdout, stderr, status = [await _reader(r) for r, _ in pipes]
    record.running = True
    record.pid = json.loads(await status.readline() or b"{}").get("pid", 0)
    if response is None:
        record.watcher = loop.create_task(_finish(execs, record, stdout, stderr, status, None))
        return web.Response(status=200)
    await _finish(execs, record, stdout, stderr, status, response)
    return end_hijack(request, response)


async def _reader(fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    pipe = os.fdopen(fd, "rb", buffering=0)
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader


async def _finish(execs: ExecService, record: ExecRecord, stdout, stderr, status, response) -> None:
    """Copy the output to the stream (if any), wait for the exit and record it."""

    async def pump(reader: asyncio.StreamReader, stream: str) -> None:
        while data := await reader.read(_CHUNK):
            if response is not None and not response_gone.is_set():
                try:
                    await response.write(frame(stream, data))
                except ConnectionError:
                    response_gone.set()

    response_gone = asyncio.Event()
    await asyncio.gather(pump(stdout, "stdout"), pump(stderr, "stderr"))
    try:
        outcome = json.loads(await status.readline() or b"{}")
    except ValueError:
        outcome = {}
    # No outcome: the runner died (killed with the container): docker reports such an exec as 126 too.
    failure = outcome.get("error") if "code" in outcome else outcome.get("error", "the exec's runner died")
    code = outcome.get("code", 126)
    if failure is not None:
        # The process never ran: docker's codes for that, and the reason where the user looks.
        code = 127 if "not found" in failure else 126
        if response is not None and not response_gone.is_set():
            try:
                await response.write(frame("stderr", f"OCI runtime exec failed: {failure}\n".encode()))
            except ConnectionError:
                pass
    execs.finished(record, code)


def register(routes: Routes) -> None:
    routes.add("POST", "/containers/{name}/exec", create)
    routes.add("POST", "/exec/{id}/start", start)
    routes.add("GET", "/exec/{id}/json", inspect)
