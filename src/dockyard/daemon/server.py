"""`dockyard daemon`: build the services over one data root and serve the Engine API on unix sockets."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import signal
import sys

from aiohttp import web

from dockyard.api.app import Services, make_app
from dockyard.daemon.config import DaemonConfig
from dockyard.daemon.facts import HostFacts
from dockyard.errors import Conflict
from dockyard.services.images import ImageService

log = logging.getLogger("dockyard.daemon")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR,
           "fatal": logging.CRITICAL}  # fmt: skip


def run(config: DaemonConfig) -> None:
    """Serve until SIGTERM or SIGINT; raises DockyardError if the daemon cannot start."""
    logging.basicConfig(
        level=_LEVELS[config.log_level], stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.makedirs(config.exec_root, mode=0o700, exist_ok=True)
    os.makedirs(config.data_root, mode=0o711, exist_ok=True)
    with _pidfile(config.pid_path):
        images = ImageService.open(config.data_root, snapshotter=config.storage_driver)
        try:
            app = make_app(Services(images=images, info=HostFacts(config)))
            asyncio.run(_serve(app, config))
        finally:
            images.close()


@contextlib.contextmanager
def _pidfile(path: str):
    try:
        with open(path) as f:
            pid = int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        pid = 0
    if pid and pid != os.getpid() and os.path.exists(f"/proc/{pid}"):
        raise Conflict(f"pid file found, ensure dockyard is not running or delete {path}")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(path + ".tmp", path)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


async def _serve(app: web.Application, config: DaemonConfig) -> None:
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    sockets = []
    try:
        for host in config.hosts:
            path = host.removeprefix("unix://")
            os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # a stale socket: the pid file said no daemon owns it
            site = web.UnixSite(runner, path)
            await site.start()
            _restrict(path, config.group)
            sockets.append(path)
            log.info("API listening on %s", path)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.cleanup()
        for path in sockets:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _restrict(path: str, group: str) -> None:
    """Mode 0660, owned by the group if it exists: its members may use the engine, as docker's group."""
    os.chmod(path, 0o660)
    try:
        os.chown(path, 0, grp.getgrnam(group).gr_gid)
    except KeyError:
        log.info("group %s does not exist: %s is for root only", group, path)
