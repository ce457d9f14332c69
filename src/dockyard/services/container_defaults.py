"""The daemon's defaults for containers (dockerd's daemon.json dns, default-ulimits, init...): a container's
own setting always wins.

dockerd applies them at two moments, and inspect shows the difference:

- at create, into the stored HostConfig: ShmSize (a size of 0 means "the daemon's"), CgroupnsMode, and the default
  ulimits merged under the container's own by name (dockerd merges them again at each start and in
  inspect; merged once here, inspect shows the same while the daemon's defaults stay the same);
- at each start, into the OCI spec only: --init for a container whose Init is null (false refuses it),
  no-new-privileges and the seccomp profile before the container's own --security-opt (the later entry
  wins), the cgroup parent of a container that names none. Inspect shows the container's own settings.

The DNS defaults are the sandbox's (dockyard.services.sandboxes): each of dns, dns-search and dns-opts
replaces the host's for containers whose Dns, DnsSearch or DnsOptions is empty.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContainerDefaults:
    dns: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    ulimits: tuple[dict, ...] = ()  # [{"Name", "Soft", "Hard"}]
    shm_size: int = 0  # bytes; 0: docker's 64 MiB
    init: bool = False
    init_path: str = ""  # the init binary for --init; "": docker-init or tini-static from the PATH
    no_new_privileges: bool = False
    seccomp: str = ""  # "": the built-in profile; "unconfined"; else a profile's JSON, read at daemon start
    cgroup_parent: str = ""
    cgroupns_mode: str = "host"  # "host" or "private", for containers that give none
    cgroup_v2: bool = False  # the host's cgroups are unified: privileged containers get the default mode too

    def at_create(self, host_config: dict) -> dict:
        """host_config with the defaults dockerd stores at create."""
        result = dict(host_config)
        if not result.get("ShmSize") and self.shm_size:
            result["ShmSize"] = self.shm_size
        own = {ulimit.get("Name") for ulimit in result.get("Ulimits") or []}
        merged = [*(result.get("Ulimits") or []), *(u for u in self.ulimits if u["Name"] not in own)]
        if merged:
            result["Ulimits"] = merged
        if not result.get("CgroupnsMode"):
            # dockerd: a privileged container on cgroup v1 sees the host's hierarchy whatever the default.
            privileged_v1 = result.get("Privileged") and not self.cgroup_v2
            result["CgroupnsMode"] = "host" if privileged_v1 else self.cgroupns_mode
        return result

    def at_start(self, host_config: dict) -> dict:
        """host_config as the OCI spec of a starting container sees it."""
        result = dict(host_config)
        if result.get("Init") is None and self.init:
            result["Init"] = True
        daemon_options = ["no-new-privileges=true"] if self.no_new_privileges else []
        if self.seccomp:
            daemon_options.append(f"seccomp={self.seccomp}")
        if daemon_options:
            result["SecurityOpt"] = [*daemon_options, *(result.get("SecurityOpt") or [])]
        if not result.get("CgroupParent") and self.cgroup_parent:
            result["CgroupParent"] = self.cgroup_parent
        return result
