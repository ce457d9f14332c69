"""/images/...: list, inspect, history, tag, remove, prune, load, save (get) and import (create fromSrc)."""

from __future__ import annotations

import functools

from aiohttp import web

from dockyard.api import versions
from dockyard.api.app import Routes, services_of
from dockyard.api.params import boolean, filters
from dockyard.api.responses import error_message, json_lines, json_response
from dockyard.api.streams import stream_response, with_request_body
from dockyard.api.threads import blocking as _blocking
from dockyard.errors import InvalidParameter, NotFound
from dockyard.image import reference

TAR = "application/x-tar"


def _name(request: web.Request) -> str:
    return request.match_info["name"]


async def list_images(request: web.Request) -> web.Response:
    images = services_of(request).images
    summaries = await _blocking(images.list, filters(request), show_all=boolean(request, "all"))
    api = request["api_version"]
    for summary in summaries:
        if versions.before(api, "1.44"):
            summary["VirtualSize"] = summary["Size"]
        if versions.before(api, "1.47"):
            summary.pop("Descriptor", None)
    return json_response(summaries)


# Since API 1.50 an image's Config holds only the image's fields, not a whole container config.
_IMAGE_CONFIG_KEYS = frozenset(
    {"User", "ExposedPorts", "Env", "Cmd", "Healthcheck", "ArgsEscaped", "Volumes", "WorkingDir", "Entrypoint",
     "OnBuild", "Labels", "StopSignal", "Shell"}
)  # fmt: skip


async def inspect(request: web.Request) -> web.Response:
    inspected = await _blocking(services_of(request).images.inspect, _name(request))
    api = request["api_version"]
    if not versions.before(api, "1.50"):
        inspected["Config"] = {k: v for k, v in inspected["Config"].items() if k in _IMAGE_CONFIG_KEYS}
    if versions.before(api, "1.48"):
        inspected.pop("Descriptor", None)
    if versions.before(api, "1.44"):
        inspected["VirtualSize"] = inspected["Size"]
    return json_response(inspected)


async def history(request: web.Request) -> web.Response:
    return json_response(await _blocking(services_of(request).images.history, _name(request)))


async def tag(request: web.Request) -> web.Response:
    repo = request.query.get("repo", "")
    if not repo:
        raise InvalidParameter("repository name must have at least one component")
    target = f"{repo}:{request.query['tag']}" if request.query.get("tag") else repo
    await _blocking(services_of(request).images.tag, _name(request), target)
    return web.Response(status=201)


async def remove(request: web.Request) -> web.Response:
    images = services_of(request).images
    records = await _blocking(
        images.remove, _name(request), force=boolean(request, "force"), prune=not boolean(request, "noprune")
    )
    return json_response(records)


async def prune(request: web.Request) -> web.Response:
    return json_response(await _blocking(services_of(request).images.prune, filters(request)))


async def load(request: web.Request) -> web.Response:
    """The body is the archive; the answer a JSON stream of docker's "Loaded image" lines."""
    # quiet or not, the answer is the same: Dockyard sends no progress bars, only the result lines.
    # A bad archive is an error inside a 200 stream, as dockerd answers (docker-py's ImageLoadError).
    try:
        messages = await with_request_body(request, services_of(request).images.load)
    except InvalidParameter as exc:
        return await json_lines(request, [error_message(str(exc))])
    return await json_lines(request, [{"stream": message + "\n"} for message in messages])


async def save(request: web.Request) -> web.StreamResponse:
    names = request.query.getall("names", []) if "name" not in request.match_info else [_name(request)]
    if not names:
        raise InvalidParameter("no images given: use ?names=NAME")
    images = services_of(request).images
    for name in names:
        await _blocking(images.get, name)  # a NotFound now is a 404, not a cut-off tar stream
    return await stream_response(request, functools.partial(images.save, names), content_type=TAR)


async def create(request: web.Request) -> web.Response:
    """POST /images/create: fromSrc imports a rootfs tarball (the body when "-", else a URL)."""
    source = request.query.get("fromSrc")
    if source is None:
        if request.query.get("fromImage"):
            # docker's own words for an image no registry has, which clients recognise (docker-py's
            # ImageNotFound); pulling from registries arrives with the distribution client.
            raise NotFound(
                f"pull access denied for {request.query['fromImage']}, repository does not exist or may require "
                "'docker login': Dockyard cannot pull from registries yet"
            )
        raise InvalidParameter("fromSrc or fromImage is required")
    repo, tag_name = request.query.get("repo", ""), request.query.get("tag", "")
    name = None
    if repo:
        ref = reference.parse(repo, default_tag=not tag_name)
        name = str(ref.with_tag(tag_name) if tag_name else ref)
    options = {
        "name": name,
        "changes": request.query.getall("changes", []),
        "message": request.query.get("message", ""),
    }
    if request.query.get("platform"):
        from dockyard.image import manifest as m

        options["platform"] = m.parse_platform(request.query["platform"])
    images = services_of(request).images
    if source == "-":
        image = await with_request_body(request, lambda stream: images.import_image(stream, **options))
    else:
        image = await _blocking(images.import_url, source, **options)
    return await json_lines(request, [{"status": image.id}])


def register(routes: Routes) -> None:
    routes.add("GET", "/images/json", list_images)
    routes.add("POST", "/images/load", load)
    routes.add("GET", "/images/get", save)
    routes.add("POST", "/images/create", create)
    routes.add("POST", "/images/prune", prune)
    routes.add("GET", r"/images/{name:.+}/json", inspect)
    routes.add("GET", r"/images/{name:.+}/history", history)
    routes.add("GET", r"/images/{name:.+}/get", save)
    routes.add("POST", r"/images/{name:.+}/tag", tag)
    routes.add("DELETE", r"/images/{name:.+}", remove)
