"""/containers/...: create, list, inspect, start, stop, restart, kill, wait, logs, remove."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time

from aiohttp import web

from dockyard.api import body_types, versions
from dockyard.api.app import SERVICES, Routes, services_of
from dockyard.api.attach import send_entries
from dockyard.api.container_filters import PortFilter, is_task, window
from dockyard.api.container_list import ContainerListing, Entry, encode_list, mounts
from dockyard.api.params import boolean, filters, json_object
from dockyard.api.responses import JSON, encoded_response, finish, json_response
from dockyard.api.streams import stream_response, with_request_body
from dockyard.api.threads import blocking as _blocking
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.metadata.containers import ContainerRecord
from dockyard.runtime import container_spec, namespace_modes, runtimes
from dockyard.services import container_links
from dockyard.services.containers import ContainerService
from dockyard.services.filters import check as check_filters
from dockyard.services.filters import label_matches

_LISTING = web.AppKey("container_listing", ContainerListing)
# Read once per list by list_containers (dockyard.api.container_filters), the others by _matches.
_WHOLE_LIST_FILTERS = frozenset({"before", "since", "is-task", "publish", "expose"})
_MATCHED_FILTERS = frozenset({"id", "name", "status", "label", "ancestor", "exited", "health", "volume", "network"})
_LIST_FILTERS = _WHOLE_LIST_FILTERS | _MATCHED_FILTERS


def _containers(request: web.Request) -> ContainerService:
    return services_of(request).containers


def _name(request: web.Request) -> str:
    return request.match_info["name"]


def _image_config(request: web.Request, record: ContainerRecord) -> dict:
    return _containers(request).image_config(record)


def _inspect(request: web.Request, record: ContainerRecord) -> dict:
    containers = _containers(request)
    image_config = _image_config(request, record)
    args = container_spec.command(image_config, record.config) if image_config or record.config.get("Cmd") else [""]
    files = containers.files_dir(record.id)
    config = {
        "Hostname": record.config.get("Hostname") or record.id[:12],
        "Domainname": record.config.get("Domainname", ""),
        "User": record.config.get("User", ""),
        "AttachStdin": bool(record.config.get("AttachStdin")),
        "AttachStdout": bool(record.config.get("AttachStdout")),
        "AttachStderr": bool(record.config.get("AttachStderr")),
        "Tty": bool(record.config.get("Tty")),
        "OpenStdin": bool(record.config.get("OpenStdin")),
        "StdinOnce": bool(record.config.get("StdinOnce")),
        "Env": container_spec.config_env(image_config, record.config),
        "Cmd": record.config.get("Cmd") if record.config.get("Cmd") is not None else image_config.get("Cmd"),
        "Image": record.image_name,
        "Volumes": record.config.get("Volumes") or image_config.get("Volumes"),
        "WorkingDir": record.config.get("WorkingDir") or image_config.get("WorkingDir", ""),
        "Entrypoint": record.config.get("Entrypoint") or image_config.get("Entrypoint"),
        "OnBuild": image_config.get("OnBuild"),
        "Labels": {**(image_config.get("Labels") or {}), **(record.config.get("Labels") or {})},
    }
    for key in ("StopSignal", "StopTimeout", "Healthcheck"):
        if record.config.get(key) is not None:
            config[key] = record.config[key]
    host_config = {
        "Binds": None, "NetworkMode": "default", "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": False, "Privileged": False, "ReadonlyRootfs": False, "CapAdd": None, "CapDrop": None,
        "LogConfig": {"Type": "json-file", "Config": {}}, "Runtime": runtimes.BUILTIN, **record.host_config,
        "Links": container_links.inspect_form(record, containers.find),
    }  # fmt: skip
    return {
        "Id": record.id,
        "Created": record.created,
        "Path": args[0],
        "Args": args[1:],
        "State": record.state,
        "Image": record.image_id,
        "ResolvConfPath": f"{files}/resolv.conf",
        "HostnamePath": f"{files}/hostname",
        "HostsPath": f"{files}/hosts",
        # docker names a file only for json-file: local's is its own, and none has none.
        "LogPath": containers.log_path(record) if record.host_config["LogConfig"]["Type"] == "json-file" else "",
        "Name": f"/{record.name}",
        "RestartCount": record.restart_count,
        "Driver": services_of(request).images.driver_name(),
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host_config,
        "GraphDriver": {"Name": services_of(request).images.driver_name(), "Data": {}},
        "Mounts": mounts(record),
        "Config": config,
        "NetworkSettings": services_of(request).sandboxes.settings(record),
    }


def _matches(entry: Entry, wanted: dict[str, list[str]]) -> bool:
    record = entry.record
    state = record.state
    for key, values in wanted.items():
        if key == "id" and not any(record.id.startswith(v) for v in values):
            return False
        if key == "name" and not any(v.removeprefix("/") in record.name for v in values):
            return False
        if key == "status" and state["Status"] not in values:
            return False
        if key == "exited" and (state["Running"] or str(state["ExitCode"]) not in values):
            return False
        if key == "ancestor" and not any(v in (record.image_name, record.image_id) for v in values):
            return False
        if key == "health" and (state.get("Health") or {}).get("Status", "none") not in values:
            return False
        if key == "label" and not all(label_matches(record.config.get("Labels") or {}, v) for v in values):
            return False
        if key == "volume" and not any(_uses_volume(record, v) for v in values):
            return False
        if key == "network" and not _on_network(entry, values):
            return False
    return True


def _uses_volume(record: ContainerRecord, wanted: str) -> bool:
    """docker ps --filter volume=: a volume's name, or a mount's destination."""
    return any(wanted in (point.name, point.destination) for point in ContainerService.mount_points(record))


def _on_network(entry: Entry, values: list[str]) -> bool:
    """docker ps --filter network=: by network name or ID (prefix), among the networks its summary shows."""
    joined = entry.summary["NetworkSettings"]["Networks"]
    return any(name in values or any(settings["NetworkID"].startswith(v) for v in values)
               for name, settings in joined.items())  # fmt: skip


async def create(request: web.Request) -> web.Response:
    body = body_types.decode_create(await json_object(request))
    old_client = versions.before(request.get("api_version", versions.MAX_VERSION), "1.40")
    if old_client and not (body.get("HostConfig") or {}).get("IpcMode"):
        # Clients before API 1.40 expect dockerd's default IPC mode of the time, as dockerd gives them.
        body["HostConfig"] = {**(body.get("HostConfig") or {}), "IpcMode": namespace_modes.LEGACY_IPC_MODE}
    record = await _blocking(_containers(request).create, body, request.query.get("name"))
    return json_response({"Id": record.id, "Warnings": _containers(request).warnings(body)}, status=201)


async def list_containers(request: web.Request) -> web.Response:
    wanted = filters(request)
    check_filters(wanted, _LIST_FILTERS)
    limit = int(request.query.get("limit", "-1") or -1)
    tasks_only = is_task(wanted)
    listing = request.app[_LISTING]
    entries = listing.ready()
    if entries is None:
        entries = await _blocking(listing.entries)
    if "before" in wanted or "since" in wanted:
        entries = window(entries, wanted)
    if tasks_only:  # dockyard runs no swarm tasks
        entries = []
    if (ports := PortFilter.parse(wanted)) is not None:
        entries = [e for e in entries if ports.matches(e)]
    # As dockerd: a limit (ps -n/-l) lists containers in every state, which the docker CLI relies on.
    if not boolean(request, "all") and limit <= 0 and "status" not in wanted and "exited" not in wanted:
        entries = [e for e in entries if e.record.state["Running"]]
    wanted = {key: values for key, values in wanted.items() if key not in _WHOLE_LIST_FILTERS}
    if wanted:
        entries = [e for e in entries if _matches(e, wanted)]
    if limit > 0:
        entries = entries[:limit]
    now = time.time()
    if boolean(request, "size"):
        return json_response(await _blocking(_with_sizes, request, entries, now))
    return encoded_response(encode_list(entries, now))


def container_summaries_with_sizes(request: web.Request) -> list[dict]:
    """Every container's summary with its sizes, for /system/df (called in a worker thread)."""
    return _with_sizes(request, request.app[_LISTING].entries(), time.time())


def _with_sizes(request: web.Request, entries: list[Entry], now: float) -> list[dict]:
    return [{**entry.document(now), **_sizes(request, entry.record)} for entry in entries]


def _sizes(request: web.Request, record: ContainerRecord) -> dict:
    """docker's SizeRw (what the container wrote) and SizeRootFs (that plus its image)."""
    images = services_of(request).images
    try:
        written = images.rootfs_usage(record.id)
    except NotFound:
        written = 0
    try:
        image_size = images.get(record.image_id).record.size
    except NotFound:
        image_size = 0
    return {"SizeRw": written, "SizeRootFs": written + image_size}


async def inspect(request: web.Request) -> web.Response:
    def inspected() -> dict:  # one hop to a worker thread, not one per store read: every `docker exec` asks
        record = _containers(request).get(_name(request))
        return _inspect(request, record) | (_sizes(request, record) if boolean(request, "size") else {})

    return json_response(await _blocking(inspected))


async def start(request: web.Request) -> web.Response:
    await _blocking(_containers(request).start, _name(request))
    return web.Response(status=204)


def _timeout(request: web.Request) -> float | None:
    raw = request.query.get("t") or request.query.get("timeout")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameter(f"invalid timeout {raw!r}: expected a number of seconds") from None


async def stop(request: web.Request) -> web.Response:
    await _blocking(_containers(request).stop, _name(request), _timeout(request), request.query.get("signal"))
    return web.Response(status=204)


async def restart(request: web.Request) -> web.Response:
    containers = _containers(request)
    record = await _blocking(containers.get, _name(request))
    if record.state["Running"]:
        await _blocking(containers.stop, record.id, _timeout(request), request.query.get("signal"))
    await _blocking(containers.start, record.id)
    return web.Response(status=204)


async def kill(request: web.Request) -> web.Response:
    await _blocking(_containers(request).kill, _name(request), request.query.get("signal") or "SIGKILL")
    return web.Response(status=204)


async def wait(request: web.Request) -> web.StreamResponse:
    """The headers go out once the wait is registered: `docker run` starts the container only then."""
    containers = _containers(request)
    record = await _blocking(containers.get, _name(request))
    condition = request.query.get("condition", "not-running")
    if condition not in ("not-running", "next-exit", "removed"):
        raise InvalidParameter(f"invalid condition: {condition!r}")
    result = None
    if condition == "removed":
        future = containers.subscribe_removal(record.id)
    else:
        future = containers.subscribe_exit(record.id)  # first: an exit after the check below is not missed
        current = await _blocking(containers.get, record.id)
        if condition == "not-running" and not current.state["Running"] and not current.state.get("Restarting"):
            result = {"StatusCode": current.state["ExitCode"]}
            containers.unsubscribe_exit(record.id, future)
    response = web.StreamResponse(headers={"Content-Type": JSON})
    await response.prepare(request)
    if result is None:
        result = await asyncio.wrap_future(future)
    await response.write(json.dumps({**result, "Error": None}).encode() + b"\n")
    return await finish(response)


async def remove(request: web.Request) -> web.Response:
    if boolean(request, "link"):  # the name is a link's, PARENT/ALIAS: hence the route's slashes
        await _blocking(_containers(request).remove_link, _name(request))
    else:
        await _blocking(
            _containers(request).remove, _name(request), force=boolean(request, "force"), volumes=boolean(request, "v")
        )
    return web.Response(status=204)


def _time_param(request: web.Request, name: str) -> float:
    raw = request.query.get(name, "")
    if not raw or raw == "0":
        return 0.0
    try:
        return float(raw)
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {raw!r}") from None


async def logs(request: web.Request) -> web.StreamResponse:
    containers = _containers(request)
    record = await _blocking(containers.get, _name(request))
    wanted = {s for s in ("stdout", "stderr") if boolean(request, s)}
    if not wanted:
        raise InvalidParameter("you must choose at least one stream")
    tail_raw = request.query.get("tail", "all")
    tail = -1 if tail_raw in ("all", "") else int(tail_raw) if tail_raw.isdigit() else -1
    timestamps = boolean(request, "timestamps")
    tty = bool(record.config.get("Tty"))
    entries = await _blocking(
        containers.logs, record.id, follow=boolean(request, "follow"), since=_time_param(request, "since"),
        until=_time_param(request, "until"), tail=tail,
    )  # fmt: skip
    content_type = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    await send_entries(response, entries, wanted, tty=tty, timestamps=timestamps, details=boolean(request, "details"))
    return await finish(response)


async def update(request: web.Request) -> web.Response:
    body = body_types.decode(await json_object(request), body_types.RESOURCES, "UpdateConfig")
    warnings = await _blocking(_containers(request).update, _name(request), body)
    return json_response({"Warnings": warnings})


async def pause(request: web.Request) -> web.Response:
    await _blocking(_containers(request).pause, _name(request))
    return web.Response(status=204)


async def unpause(request: web.Request) -> web.Response:
    await _blocking(_containers(request).unpause, _name(request))
    return web.Response(status=204)


async def rename(request: web.Request) -> web.Response:
    new_name = request.query.get("name", "")
    if not new_name:
        raise InvalidParameter("Neither old nor new names may be empty")
    await _blocking(_containers(request).rename, _name(request), new_name)
    return web.Response(status=204)


async def top(request: web.Request) -> web.Response:
    return json_response(await _blocking(_containers(request).top, _name(request), request.query.get("ps_args", "-ef")))


# docker diff's kinds in the API: 0 modified, 1 added, 2 deleted
_CHANGE_KINDS = {"C": 0, "A": 1, "D": 2}


async def changes(request: web.Request) -> web.Response:
    record = await _blocking(_containers(request).get, _name(request))
    found = await _blocking(services_of(request).images.container_changes, record.id)
    return json_response([{"Path": path, "Kind": _CHANGE_KINDS[kind]} for kind, path in found])


async def export(request: web.Request) -> web.StreamResponse:
    record = await _blocking(_containers(request).get, _name(request))
    work = functools.partial(services_of(request).images.export, record.id)
    return await stream_response(request, work, content_type="application/x-tar")


async def prune(request: web.Request) -> web.Response:
    return json_response(await _blocking(_containers(request).prune, filters(request)))


async def commit(request: web.Request) -> web.Response:
    """POST /commit: the container's changes as a new image, its config the container's plus --change."""
    containers = _containers(request)
    record = await _blocking(containers.get, request.query.get("container", ""))
    body = await request.read()
    overrides = json.loads(body) if body.strip() else {}
    repo, tag_name = request.query.get("repo", ""), request.query.get("tag", "")
    name = f"{repo}:{tag_name}" if repo and tag_name else repo or None
    container_config = {**record.config, **(overrides or {})}
    container_config.pop("Image", None)
    paused = False
    if record.state["Running"] and not record.state["Paused"] and boolean(request, "pause", True):
        try:
            await _blocking(containers.pause, record.id)  # docker pauses by default: a consistent snapshot
            paused = True
        except (Conflict, NotFound):
            pass  # it exited meanwhile: nothing runs to change its files
    try:
        image = await _blocking(
            services_of(request).images.commit,
            record.id,
            container_config=container_config,
            name=name,
            changes=request.query.getall("changes", []),
            comment=request.query.get("comment", ""),
            author=request.query.get("author", ""),
            created_by=" ".join(container_spec.command(_image_config(request, record), record.config)),
        )
    finally:
        if paused:
            with contextlib.suppress(Conflict, NotFound):
                await _blocking(containers.unpause, record.id)
    return json_response({"Id": image.id}, status=201)


def register(routes: Routes) -> None:
    routes.app[_LISTING] = ContainerListing(routes.app[SERVICES])
    routes.add("POST", "/containers/prune", prune)
    routes.add("POST", "/commit", commit)
    routes.add("POST", r"/containers/{name:.+}/update", update)
    routes.add("POST", r"/containers/{name:.+}/pause", pause)
    routes.add("POST", r"/containers/{name:.+}/unpause", unpause)
    routes.add("POST", r"/containers/{name:.+}/rename", rename)
    routes.add("GET", r"/containers/{name:.+}/top", top)
    routes.add("GET", r"/containers/{name:.+}/changes", changes)
    routes.add("GET", r"/containers/{name:.+}/export", export)
    routes.add("GET", r"/containers/{name:.+}/stats", stats)
    routes.add("HEAD", r"/containers/{name:.+}/archive", archive_head)
    routes.add("GET", r"/containers/{name:.+}/archive", archive_get)
    routes.add("PUT", r"/containers/{name:.+}/archive", archive_put)
    routes.add("POST", "/containers/create", create)
    routes.add("GET", "/containers/json", list_containers)
    routes.add("GET", r"/containers/{name:.+}/json", inspect)
    routes.add("POST", r"/containers/{name:.+}/start", start)
    routes.add("POST", r"/containers/{name:.+}/stop", stop)
    routes.add("POST", r"/containers/{name:.+}/restart", restart)
    routes.add("POST", r"/containers/{name:.+}/kill", kill)
    routes.add("POST", r"/containers/{name:.+}/wait", wait)
    routes.add("GET", r"/containers/{name:.+}/logs", logs)
    routes.add("DELETE", r"/containers/{name:.+}", remove)


async def archive_head(request: web.Request) -> web.Response:
    header = await _blocking(services_of(request).archives.stat, _name(request), _archive_path(request))
    return web.Response(status=200, headers={"X-Docker-Container-Path-Stat": header})


async def archive_get(request: web.Request) -> web.StreamResponse:
    archives = services_of(request).archives
    path = _archive_path(request)
    header = await _blocking(archives.stat, _name(request), path)  # a 404 before any byte of the tar
    work = functools.partial(archives.get, _name(request), path)
    request["path_stat"] = header
    response = await stream_response(request, work, content_type="application/x-tar")
    return response


async def archive_put(request: web.Request) -> web.Response:
    archives = services_of(request).archives
    await with_request_body(request, functools.partial(archives.put, _name(request), _archive_path(request)))
    return web.Response(status=200)


def _archive_path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise InvalidParameter("path is required: the file or directory in the container")
    return path


async def stats(request: web.Request) -> web.StreamResponse:
    """GET /containers/{id}/stats: one sample (stream=false or one-shot) or one a second until the exit."""
    service = services_of(request).stats
    first = await _blocking(service.sample, _name(request))
    if not boolean(request, "stream", True) or boolean(request, "one-shot"):
        return json_response(first)
    response = web.StreamResponse(headers={"Content-Type": JSON})
    await response.prepare(request)
    sample = first
    try:
        while True:
            await response.write(json.dumps(sample).encode() + b"\n")
            if sample["read"].startswith("0001-"):
                break  # stopped: docker sends one empty sample and ends
            await asyncio.sleep(1)
            sample = await _blocking(service.sample, sample["id"])
    except (ConnectionError, NotFound):
        pass
    return await finish(response)
