"""Registry credentials in docker's config file ($DOCKER_CONFIG/config.json, else ~/.docker/config.json).

Shared with the docker CLI on purpose: `docker login` and `dockyard login` see each other's
entries ({"auths": {"registry": {"auth": base64("user:password")}}}). Credential helpers
are not consulted.
"""

from __future__ import annotations

import base64
import os

from dockyard import fastjson

DEFAULT_REGISTRY = "https://index.docker.io/v1/"


def config_path() -> str:
    directory = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(directory, "config.json")


def load() -> dict:
    try:
        with open(config_path(), "rb") as f:
            config = fastjson.loads(f.read())
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def save(config: dict) -> None:
    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    temporary = path + ".tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(fastjson.dumps(config))
    os.replace(temporary, path)


def registry_of(image: str) -> str:
    """The registry part of a reference, as docker decides: a first component with '.', ':' or 'localhost'."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return DEFAULT_REGISTRY


def for_image(image: str) -> dict | None:
    return for_registry(registry_of(image))


def for_registry(registry: str) -> dict | None:
    entry = (load().get("auths") or {}).get(registry)
    if not entry or not entry.get("auth"):
        return None
    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    return {"username": user, "password": password, "serveraddress": registry}


def encode(auth: dict) -> str:
    """X-Registry-Auth: URL-safe base64 of the JSON, as the Engine API documents."""
    return base64.urlsafe_b64encode(fastjson.dumps(auth).encode()).decode()


def store(registry: str, username: str, password: str) -> None:
    config = load()
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    config.setdefault("auths", {})[registry] = {"auth": token}
    save(config)


def forget(registry: str) -> bool:
    config = load()
    if registry not in (config.get("auths") or {}):
        return False
    del config["auths"][registry]
    save(config)
    return True
