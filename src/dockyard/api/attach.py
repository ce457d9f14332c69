"""POST /containers/{id}/attach and /resize: a client's terminal or pipes joined to a container.

Output comes from the container's log as the shim writes it, so nothing written
between the attach and the start is lost (`docker run` attaches first); input goes
to the shim over its control socket (dockyard.runtime.control), once the
container runs. As under dockerd:

- an attach to a Tty container ends on the detach keys (default ctrl-p,ctrl-q)
  and when the client's input ends;
- without a Tty, the end of the client's input closes the container's stdin if
  it has StdinOnce (`echo hi | docker run -i busybox cat` ends), else it ends
  the attach;
- an attach ending never stops the container.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from dockyard.api import detach_keys, versions
from dockyard.api.app import Routes, services_of
from dockyard.api.hijack import end_hijack, frame, hijack, hijacked_input
from dockyard.api.params import boolean
from dockyard.api.threads import blocking
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.logs import attributes as log_attributes
from dockyard.metadata.containers import ContainerRecord
from dockyard.runtime import control
from dockyard.services.containers import ContainerService

_CHUNK = 1 << 15
_CONNECT_TRIES = 40  # a running container's shim answers at once; this bounds a wait on one that is going


async def attach(request: web.Request) -> web.StreamResponse:
    containers: ContainerService = services_of(request).containers
    record = await blocking(containers.get, request.match_info["name"])
    tty = bool(record.config.get("Tty"))
    keys = detach_keys.parse(request.query.get("detachKeys"))
    entries, detach = await _attach_output(request, containers, record)
    response = await hijack(request, tty=tty)
    wanted = {s for s in ("stdout", "stderr") if boolean(request, s)}
    output = asyncio.create_task(send_entries(response, entries, wanted, tty=tty, timestamps=False))
    if _with_input(request, record):
        await _relay_input(containers, record, hijacked_input(request), keys, output, detach)
    await output
    return end_hijack(request, response)


async def _attach_output(request: web.Request, containers: ContainerService, record: ContainerRecord):
    """The records (and the detach function) the attach's query asks for: logs, stream."""
    logs, stream = boolean(request, "logs"), boolean(request, "stream")
    return await blocking(containers.attach_output, record.id, logs=logs, stream=stream)


def _with_input(request: web.Request, record: ContainerRecord) -> bool:
    """docker takes input only from a streaming attach that asks for it, to a container with OpenStdin."""
    return boolean(request, "stdin") and boolean(request, "stream") and bool(record.config.get("OpenStdin"))


async def _relay_input(
    containers: ContainerService, record: ContainerRecord, reader, keys: bytes, output: asyncio.Task, detach
) -> None:
    """Forward the client's input while the output goes on; detach if the input ends the attach."""
    tty = bool(record.config.get("Tty"))
    scanner = detach_keys.DetachScanner(keys) if tty else None
    close_at_end = bool(record.config.get("StdinOnce")) and not tty
    forward = asyncio.create_task(forward_input(containers, record.id, reader, scanner, close_at_end=close_at_end))
    await asyncio.wait({output, forward}, return_when=asyncio.FIRST_COMPLETED)
    if forward.done() and forward.result():
        detach()  # the output's reader returns at its next look at the log
    elif not forward.done():
        forward.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await forward


async def forward_input(
    containers: ContainerService,
    container_id: str,
    reader: asyncio.StreamReader,
    scanner: detach_keys.DetachScanner | None,
    *,
    close_at_end: bool,
) -> bool:
    """Copy the client's input to the container until it ends; True if the attach ends with it."""
    shim = _ShimInput(containers, container_id)
    try:
        while data := await reader.read(_CHUNK):
            detached = False
            if scanner is not None:
                data, detached = scanner.feed(data)
            await shim.send(control.stdin_frames(data) if data else b"")
            if detached:
                return True
        if not close_at_end:
            return True
        await shim.send(control.close_stdin_frame())
        return False
    finally:
        shim.close()


class _ShimInput:
    """The attach's connection to the shim, made when there is something to send and the container runs."""

    def __init__(self, containers: ContainerService, container_id: str) -> None:
        self.containers = containers
        self.container_id = container_id
        self.writer: asyncio.StreamWriter | None = None
        self.gone = False  # the container stopped: what comes is dropped

    async def send(self, frames: bytes) -> None:
        if not frames or self.gone:
            return
        if self.writer is None:
            self.writer = await self._connect()
            if self.writer is None:
                self.gone = True
                return
        try:
            self.writer.write(frames)
            await self.writer.drain()
        except ConnectionError:
            self.gone = True

    async def _connect(self) -> asyncio.StreamWriter | None:
        """Wait for the container to run (`docker run` attaches before the start); None once it cannot."""
        tries = 0
        while tries < _CONNECT_TRIES:
            try:
                record = await blocking(self.containers.get, self.container_id)
            except NotFound:
                return None
            if record.state["Running"]:
                tries += 1
                try:
                    sock = await blocking(self.containers.control, self.container_id)
                except Conflict:
                    sock = None
                if sock is not None:
                    _, writer = await asyncio.open_unix_connection(sock=sock)
                    return writer
            elif record.state["Status"] != "created" and not record.state.get("Restarting"):
                return None
            await asyncio.sleep(0.05)
        return None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def send_entries(
    response, entries, wanted: set[str], *, tty: bool, timestamps: bool, details: bool = False
) -> None:
    """Write log records to a logs or attach stream: raw for a terminal, else in docker's frames. details:
    each line after its record's attributes (docker logs --details), the time before both."""
    loop = asyncio.get_running_loop()
    done = object()
    try:
        while (entry := await loop.run_in_executor(None, next, entries, done)) is not done:
            if entry["stream"] not in wanted:
                continue
            data = entry["log"].encode()
            if details:
                data = log_attributes.details(entry.get("attrs") or {}).encode() + b" " + data
            if timestamps:
                data = entry["time"].encode() + b" " + data
            await response.write(data if tty else frame(entry["stream"], data))
    except ConnectionError:
        pass  # the client went away; the container goes on


async def attach_ws(request: web.Request) -> web.StreamResponse:
    """GET /containers/{id}/attach/ws: the same attach over a websocket, raw both ways (no frames).

    Binary messages from API 1.42 on, text before, as dockerd sends them.
    """
    containers: ContainerService = services_of(request).containers
    record = await blocking(containers.get, request.match_info["name"])
    keys = detach_keys.parse(request.query.get("detachKeys"))
    entries, detach = await _attach_output(request, containers, record)
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    binary = not versions.before(request.get("api_version", versions.MAX_VERSION), "1.42")
    wanted = {s for s in ("stdout", "stderr") if boolean(request, s)}
    writer = _WebSocketWriter(socket, binary)
    output = asyncio.create_task(send_entries(writer, entries, wanted, tty=True, timestamps=False))
    reader = asyncio.StreamReader()
    messages = asyncio.create_task(_read_messages(socket, reader))  # also how a close by the client is seen
    if _with_input(request, record):
        await _relay_input(containers, record, reader, keys, output, detach)
    await output
    messages.cancel()
    await socket.close()
    return socket


class _WebSocketWriter:
    """send_entries' response, as websocket messages."""

    def __init__(self, socket: web.WebSocketResponse, binary: bool) -> None:
        self.socket = socket
        self.binary = binary

    async def write(self, data: bytes) -> None:
        if self.socket.closed:
            raise ConnectionResetError("the websocket is closed")
        if self.binary:
            await self.socket.send_bytes(data)
        else:
            await self.socket.send_str(data.decode(errors="replace"))


async def _read_messages(socket: web.WebSocketResponse, reader: asyncio.StreamReader) -> None:
    """The client's messages as one stream of input, ended when it closes the websocket."""
    try:
        async for message in socket:
            if message.type == web.WSMsgType.BINARY:
                reader.feed_data(message.data)
            elif message.type == web.WSMsgType.TEXT:
                reader.feed_data(message.data.encode())
    finally:
        reader.feed_eof()


def terminal_size(request: web.Request) -> tuple[int, int]:
    """The h and w parameters of a resize, as dockerd reads them (400 for what is not a number)."""
    size = []
    for name in ("h", "w"):
        raw = request.query.get(name, "")
        try:
            value = int(raw)
        except ValueError:
            raise InvalidParameter(f'strconv.Atoi: parsing "{raw}": invalid syntax') from None
        if not 0 <= value <= 0xFFFF:
            raise InvalidParameter(f"invalid terminal size {name}={raw}")
        size.append(value)
    return size[0], size[1]


async def resize(request: web.Request) -> web.Response:
    rows, columns = terminal_size(request)
    await blocking(services_of(request).containers.resize, request.match_info["name"], rows, columns)
    return web.Response(status=200)


def register(routes: Routes) -> None:
    routes.add("POST", r"/containers/{name:.+}/attach", attach)
    routes.add("POST", r"/containers/{name:.+}/resize", resize)
    routes.add("GET", r"/containers/{name:.+}/attach/ws", attach_ws)
