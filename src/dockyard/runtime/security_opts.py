"""HostConfig.SecurityOpt, read as dockerd reads it (moby's daemon/create parseSecurityOpt).

Each entry is ``key=value`` (``key:value`` is the old spelling) or one of the bare words
``no-new-privileges`` and ``disable`` (SELinux labelling off):

- ``seccomp=unconfined``, or ``seccomp=<profile JSON>``: the docker CLI reads the file it was
  given and sends its content; docker-py sends what its caller gives.
- ``no-new-privileges[=true|false]``
- ``apparmor=<profile>``: this host has no AppArmor, so only ``unconfined`` can be honoured; any
  other profile is refused rather than silently dropped as dockerd does without AppArmor.
- ``label=...``: SELinux labels, ignored as dockerd ignores them on a host without SELinux.
- ``systempaths=unconfined``: no masked or read-only /proc and /sys paths.

Anything else is refused with dockerd's message.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard import units
from dockyard.errors import InvalidParameter


@dataclass(frozen=True)
class SecurityOptions:
    seccomp: str | None = None  # None: the default profile; "unconfined"; else a profile's JSON
    no_new_privileges: bool = False
    unconfined_system_paths: bool = False


def parse(options: list[str] | None) -> SecurityOptions:
    seccomp: str | None = None
    no_new_privileges = False
    system_paths = False
    for option in options or []:
        if option == "no-new-privileges":
            no_new_privileges = True
            continue
        if option == "disable":
            continue
        if "=" in option:
            key, _, value = option.partition("=")
        elif ":" in option:
            key, _, value = option.partition(":")
        else:
            raise InvalidParameter(f'invalid --security-opt 1: "{option}"')
        if key == "seccomp":
            seccomp = value
        elif key == "no-new-privileges":
            try:
                no_new_privileges = units.go_bool(value)
            except ValueError:
                raise InvalidParameter(f'invalid --security-opt 2: "{option}"') from None
        elif key == "apparmor":
            if value != "unconfined":
                raise InvalidParameter(
                    f'apparmor profile "{value}" cannot be applied: AppArmor is not enabled on this host '
                    "(only apparmor=unconfined is accepted)"
                )
        elif key == "systempaths" and value == "unconfined":
            system_paths = True
        elif key != "label":
            raise InvalidParameter(f'invalid --security-opt 2: "{option}"')
    return SecurityOptions(seccomp, no_new_privileges, system_paths)
