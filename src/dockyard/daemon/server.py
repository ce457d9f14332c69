"""`dockyard daemon`: build the services over one data root and serve the Engine API on unix sockets and TCP."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import grp
import logging
import os
import signal
import ssl
import sys

from aiohttp import web

from dockyard.api.app import Services, make_app
from dockyard.daemon import listeners
from dockyard.daemon.config import DaemonConfig
from dockyard.daemon.facts import HostFacts
from dockyard.errors import Conflict, Unavailable
from dockyard.network.nftables import Firewall
from dockyard.network.port_allocator import PortAllocator
from dockyard.services.archive import ArchiveService
from dockyard.services.containers import ContainerService
from dockyard.services.execs import ExecService
from dockyard.services.health import HealthMonitor
from dockyard.services.images import ImageService
from dockyard.services.names import ContainerNames
from dockyard.services.networks import NetworkConfig, NetworkService
from dockyard.services.sandboxes import SandboxService
from dockyard.services.shims import ShimLauncher
from dockyard.services.stats import StatsService
from dockyard.services.volumes import VolumeService

log = logging.getLogger("dockyard.daemon")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR,
           "fatal": logging.CRITICAL}  # fmt: skip


def run(config: DaemonConfig) -> None:
    """Serve until SIGTERM or SIGINT; raises DockyardError if the daemon cannot start."""
    logging.basicConfig(
        level=_LEVELS[config.log_level], stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Certificates are read before anything is opened: a bad one stops the start with nothing done.
    tls_context = None
    if config.tls_settings.enabled and any(listener.is_tcp for listener in config.listeners):
        tls_context = listeners.server_context(config.tls_settings)
    os.makedirs(config.exec_root, mode=0o700, exist_ok=True)
    os.makedirs(config.data_root, mode=0o711, exist_ok=True)
    with _pidfile(config.pid_path):
        images = ImageService.open(config.data_root, snapshotter=config.storage_driver)
        try:
            shims = ShimLauncher(config.exec_root)
            volumes = VolumeService(data_root=config.data_root, db=images.images.db)
            firewall = Firewall(PortAllocator(), table=config.firewall_table, userland_proxy=config.userland_proxy)
            networks = NetworkService(images.images.db, _network_config(config), firewall)
            containers: ContainerService | None = None  # the sandboxes look containers up once it exists

            def container(ref: str):
                assert containers is not None
                return containers.get(ref)

            def all_containers():
                assert containers is not None
                return containers.list()

            sandboxes = SandboxService(
                networks, firewall, config.exec_root, container=container, containers=all_containers,
                image_config=lambda record: containers.image_config(record),
                files_dir=lambda container_id: os.path.join(config.data_root, "containers", container_id),
                defaults=config.container_defaults,
            )  # fmt: skip
            containers = ContainerService(
                data_root=config.data_root, exec_root=config.exec_root, db=images.images.db, images=images,
                volumes=volumes, shims=shims, network=sandboxes, log_driver=config.log_driver,
                log_opts=config.log_opts, defaults=config.container_defaults, runtimes=config.runtime_table,
            )  # fmt: skip
            # one bus: `docker events` shows them all
            images.events = volumes.events = networks.events = containers.events
            names = ContainerNames(sandboxes)  # the embedded DNS server; it hooks itself into the sandboxes
            networks.ensure_predefined()
            for chain in firewall.foreign_forward_drops():
                log.warning("the firewall chain %s drops forwarded packets by default: containers' egress and "
                            "published ports need it to accept dy-* bridges (docs/networking.md)", chain)  # fmt: skip
            images.running = containers.is_running  # rmi: a running container is a conflict force cannot lift
            volumes.references = containers.volume_users  # volume rm: in use while a container refers to it
            volumes.repair()
            execs = ExecService(containers)
            HealthMonitor(containers, execs)  # it hooks itself into container starts and exits
            adopted = containers.restore(live=config.live_restore)
            if adopted:
                log.info("live restore: re-adopted %d running containers", len(adopted))
            sandboxes.reconcile(containers.is_running)
            services = Services(
                images=images,
                containers=containers,
                volumes=volumes,
                networks=networks,
                sandboxes=sandboxes,
                execs=execs,
                archives=ArchiveService(containers),
                stats=StatsService(containers),
                info=HostFacts(config),
                experimental=config.experimental,
            )
            app = make_app(services)
            app.on_startup.append(lambda _app: names.start())
            app.on_cleanup.append(lambda _app: names.close())
            try:
                asyncio.run(_serve(app, config, tls_context))
                if not config.live_restore and containers.stop_all(config.shutdown_timeout):
                    log.error("Force shutdown daemon: containers were still stopping after the shutdown timeout")
            finally:
                shims.close()
                firewall.close()  # the userland proxy's relays end; rules and bridges stay, as dockerd leaves them
        finally:
            images.close()


def _network_config(config: DaemonConfig) -> NetworkConfig:
    # The owner tag names this daemon's exec root: two daemons on one host never reconcile each other's links.
    return NetworkConfig(bridge=config.bridge, bip=config.bip, mtu=config.mtu, pools=config.pools,
                         fixed_cidr_v6=config.fixed_cidr_v6 if config.ipv6 else "", default_bind_ip=config.ip,
                         icc=config.icc,
                         owner=f"dockyard:{config.exec_root}")  # fmt: skip


@contextlib.contextmanager
def _pidfile(path: str):
    try:
        with open(path) as f:
            pid = int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        pid = 0
    if pid and pid != os.getpid() and _is_live_daemon(pid):
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


def _is_live_daemon(pid: int) -> bool:
    """Whether pid is a running (not zombie) dockyard process: a stale pid file may name a reused pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    return state != "Z" and b"dockyard" in cmdline


async def _serve(app: web.Application, config: DaemonConfig, tls_context: ssl.SSLContext | None) -> None:
    # Service calls block in worker threads (stop waits up to its timeout): more than the default few.
    asyncio.get_running_loop().set_default_executor(concurrent.futures.ThreadPoolExecutor(64, "dy-api"))
    # handler_cancellation: a wait or a log follow whose client went away must not linger; a short
    # shutdown_timeout: clients reconnect to the next daemon, and containers outlive this one anyway.
    runner = web.AppRunner(app, handle_signals=False, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
    await runner.setup()
    sockets = []
    try:
        for listener in config.listeners:
            if listener.is_tcp:
                if tls_context is None:
                    log.warning("API listening on %s WITHOUT TLS (--insecure-tcp)", listener.address)
                site = web.TCPSite(runner, listener.host or None, listener.port, ssl_context=tls_context)
                await _start_site(site)
            else:
                path = listener.path
                os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)  # a stale socket: the pid file said no daemon owns it
                await _start_site(web.UnixSite(runner, path))
                _restrict(path, config.group)
                sockets.append(path)
            log.info("API listening on %s", listener.address)
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


async def _start_site(site: web.BaseSite) -> None:
    try:
        await site.start()
    except OSError as exc:  # the address is taken or not ours: say which, not a traceback
        raise Unavailable(f"cannot listen on {site.name}: {exc.strerror or exc}") from None


def _restrict(path: str, group: str) -> None:
    """Mode 0660, owned by the group if it exists: its members may use the engine, as docker's group."""
    os.chmod(path, 0o660)
    try:
        os.chown(path, 0, grp.getgrnam(group).gr_gid)
    except KeyError:
        log.info("group %s does not exist: %s is for root only", group, path)
