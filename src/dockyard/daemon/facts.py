"""What /info and /version report about this host and this daemon."""

from __future__ import annotations

import os
import platform
import socket
import time
import uuid

from dockyard import __version__
from dockyard.daemon.config import DaemonConfig
from dockyard.daemon.container_options import SECCOMP_BUILTIN
from dockyard.image import manifest as m
from dockyard.services.stats import mem_total


def _os_release() -> dict[str, str]:
    try:
        with open("/etc/os-release") as f:
            return {k: v.strip('"') for k, v in (line.rstrip("\n").split("=", 1) for line in f if "=" in line)}
    except OSError:
        return {}


def _cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def _daemon_id(data_root: str) -> str:
    """A stable ID per data root, as dockerd keeps one in its engine-id file."""
    path = os.path.join(data_root, "engine-id")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        engine_id = str(uuid.uuid4())
        with open(path + ".tmp", "w") as f:
            f.write(engine_id)
        os.rename(path + ".tmp", path)
        return engine_id


class HostFacts:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.engine_id = _daemon_id(config.data_root)
        self._facts = self._gather()  # the host does not change under a running daemon

    def __call__(self) -> dict:
        """The facts, with the few that do change read now."""
        info = {
            **self._facts["Info"],
            "NFd": len(os.listdir("/proc/self/fd")),
            "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
        }
        return {**self._facts, "Info": info}

    def _gather(self) -> dict:
        uname = os.uname()
        release = _os_release()
        seccomp = "Seccomp:" in _read("/proc/self/status")
        info = {
            "ID": self.engine_id,
            "Containers": 0,
            "ContainersRunning": 0,
            "ContainersPaused": 0,
            "ContainersStopped": 0,
            "Driver": self.config.storage_driver,
            "DriverStatus": [["Backing Filesystem", "extfs"]] if self.config.storage_driver == "overlay" else [],
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "ipvlan", "macvlan", "null"],
                "Authorization": None,
                "Log": ["json-file"],
            },
            "MemoryLimit": True,
            "SwapLimit": os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
            "CpuCfsPeriod": True,
            "CpuCfsQuota": True,
            "CPUShares": True,
            "CPUSet": True,
            "PidsLimit": True,
            "IPv4Forwarding": _read("/proc/sys/net/ipv4/ip_forward") == "1",
            "Debug": self.config.debug,
            "OomKillDisable": True,
            "NGoroutines": 0,
            "LoggingDriver": self.config.log_driver,
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": _cgroup_version(),
            "NEventsListener": 0,
            "KernelVersion": uname.release,
            "OperatingSystem": release.get("PRETTY_NAME", "Linux"),
            "OSVersion": release.get("VERSION_ID", ""),
            "OSType": "linux",
            "Architecture": uname.machine,
            "IndexServerAddress": "",
            "RegistryConfig": self.config.registries.info(),
            "NCPU": os.cpu_count() or 1,
            "MemTotal": mem_total(),
            "DockerRootDir": self.config.data_root,
            "HttpProxy": os.environ.get("HTTP_PROXY", ""),
            "HttpsProxy": os.environ.get("HTTPS_PROXY", ""),
            "NoProxy": os.environ.get("NO_PROXY", ""),
            "Name": socket.gethostname(),
            "Labels": list(self.config.labels),
            "ExperimentalBuild": self.config.experimental,
            "ServerVersion": __version__,
            "Runtimes": self.config.runtime_table.info(),
            "DefaultRuntime": self.config.runtime_table.default,
            "Swarm": {"LocalNodeState": "inactive", "ControlAvailable": False, "NodeID": "", "NodeAddr": ""},
            "LiveRestoreEnabled": self.config.live_restore,
            "Isolation": "",
            "InitBinary": self.config.init_path or "docker-init",  # dockerd's GetInitPath
            "SecurityOptions": self._security_options(seccomp),
            "Warnings": ["WARNING: daemon is not using the default seccomp profile"]
            if seccomp and self.config.seccomp_profile not in ("", SECCOMP_BUILTIN)
            else [],
        }
        return {
            "Info": info,
            "ServerVersion": __version__,
            "GitCommit": "",
            "PythonVersion": f"python{platform.python_version()}",
            "Architecture": m.host_platform().architecture,
            "KernelVersion": uname.release,
            "BuildTime": "",
        }

    def _security_options(self, seccomp: bool) -> list[str]:
        """As dockerd lists them: the seccomp profile by its path (or builtin, unconfined), then
        no-new-privileges when it is the containers' default."""
        options = [f"name=seccomp,profile={self.config.seccomp_profile or SECCOMP_BUILTIN}"] if seccomp else []
        if self.config.no_new_privileges:
            options.append("name=no-new-privileges")
        return options


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""
