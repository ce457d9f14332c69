"""Request bodies read as dockerd's Go decoder reads them: field names in any case, JSON types checked.

dockerd decodes a body into Go structs. Go's encoding/json matches field names case-insensitively,
and clients rely on it (docker-py sends an exec's detach keys as "detachKeys"); a field of the wrong
JSON type is a 400 before anything is created ("json: cannot unmarshal string into Go struct field
Config.Env of type []string"). null is always accepted (the field keeps its zero value); unknown
fields are ignored, as Go ignores them. The field lists follow the swagger (v1.50): ContainerConfig,
HostConfig, ExecConfig, ExecStartConfig.
"""

from __future__ import annotations

from collections.abc import Callable

from dockyard.errors import InvalidParameter

_Check = tuple[str, Callable[[object], bool]]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list_of(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: isinstance(value, list) and all(item is None or check(item) for item in value)


def _map_of(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: isinstance(value, dict) and all(item is None or check(item) for item in value.values())


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


STRING: _Check = ("string", _is_str)
BOOL: _Check = ("bool", lambda value: isinstance(value, bool))
INT: _Check = ("int64", _is_int)
STRINGS: _Check = ("[]string", _list_of(_is_str))
# Go's strslice.StrSlice takes a string as well as a list of them.
STRSLICE: _Check = ("strslice.StrSlice", lambda value: isinstance(value, str) or _list_of(_is_str)(value))
STRING_MAP: _Check = ("map[string]string", _map_of(_is_str))
OBJECT_MAP: _Check = ("map[string]struct {}", _map_of(_is_object))
OBJECT: _Check = ("struct", _is_object)
OBJECTS: _Check = ("[]struct", _list_of(_is_object))
INTS: _Check = ("[]int", _list_of(_is_int))


def _fields(*groups: tuple[str, _Check]) -> dict[str, _Check]:
    """{field: check} from ("Name Other Third", check) groups."""
    return {name: kind for names, kind in groups for name in names.split()}


CONFIG = _fields(
    ("Hostname Domainname User Image WorkingDir MacAddress StopSignal", STRING),
    ("AttachStdin AttachStdout AttachStderr Tty OpenStdin StdinOnce ArgsEscaped NetworkDisabled", BOOL),
    ("Cmd Entrypoint Shell", STRSLICE),
    ("Env OnBuild", STRINGS),
    ("ExposedPorts Volumes", OBJECT_MAP),
    ("Labels", STRING_MAP),
    ("Healthcheck HostConfig NetworkingConfig", OBJECT),
    ("StopTimeout", INT),
)

RESOURCES = _fields(
    (
        "CpuShares Memory BlkioWeight CpuPeriod CpuQuota CpuRealtimePeriod CpuRealtimeRuntime KernelMemoryTCP "
        "MemoryReservation MemorySwap MemorySwappiness NanoCpus PidsLimit CpuCount CpuPercent IOMaximumIOps "
        "IOMaximumBandwidth",
        INT,
    ),
    ("CgroupParent CpusetCpus CpusetMems", STRING),
    (
        "BlkioWeightDevice BlkioDeviceReadBps BlkioDeviceWriteBps BlkioDeviceReadIOps BlkioDeviceWriteIOps Devices "
        "DeviceRequests Ulimits",
        OBJECTS,
    ),
    ("DeviceCgroupRules", STRINGS),
    ("OomKillDisable Init", BOOL),
    ("RestartPolicy", OBJECT),  # docker update sends it beside the resources
)

HOST_CONFIG = {
    **RESOURCES,
    **_fields(
        (
            "ContainerIDFile NetworkMode VolumeDriver CgroupnsMode IpcMode Cgroup PidMode UTSMode UsernsMode "
            "Runtime Isolation",
            STRING,
        ),
        (
            "Binds VolumesFrom CapAdd CapDrop Dns DnsOptions DnsSearch ExtraHosts Links SecurityOpt MaskedPaths "
            "ReadonlyPaths GroupAdd",
            STRINGS,
        ),
        ("LogConfig PortBindings", OBJECT),
        ("AutoRemove Privileged PublishAllPorts ReadonlyRootfs", BOOL),
        ("Mounts", OBJECTS),
        ("ConsoleSize", INTS),
        ("Annotations StorageOpt Tmpfs Sysctls", STRING_MAP),
        ("OomScoreAdj ShmSize", INT),
    ),
}


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


EXEC_CREATE = _fields(
    ("AttachStdin AttachStdout AttachStderr Tty Privileged", BOOL),
    ("DetachKeys User WorkingDir", STRING),
    ("Env Cmd", STRINGS),
    ("ConsoleSize", INTS),
)
EXEC_START = _fields(("Detach Tty", BOOL), ("ConsoleSize", INTS))


def decode(body: dict, fields: dict[str, _Check], struct: str) -> dict:
    """The body with its keys spelt as `fields` spells them; InvalidParameter for the first field whose
    JSON type the Go field cannot take."""
    spelling = {name.lower(): name for name in fields}
    body = {spelling.get(key.lower(), key): value for key, value in body.items()}
    for name, value in body.items():
        if value is None or name not in fields:
            continue
        go_type, accepts = fields[name]
        if not accepts(value):
            raise InvalidParameter(
                f"json: cannot unmarshal {_json_kind(value)} into Go struct field {struct}.{name} of type {go_type}"
            )
    return body


def decode_create(body: dict) -> dict:
    """POST /containers/create: the Config at the top level, the HostConfig inside it."""
    body = decode(body, CONFIG, "Config")
    if body.get("HostConfig"):
        body["HostConfig"] = decode(body["HostConfig"], HOST_CONFIG, "HostConfig")
    return body
