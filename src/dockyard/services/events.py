"""docker events: what happened to containers and images, kept for replay and sent to listeners.

The last events stay in memory (docker keeps 256 too, and none across a restart).
Services call emit(); the API subscribes a callback per `docker events` client.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

KEEP = 256


def container_attributes(record, **extra: str) -> dict[str, str]:
    """A container event's attributes, as dockerd gives them: its labels, image and name, then extra."""
    return {**(record.config.get("Labels") or {}), "image": record.image_name, "name": record.name, **extra}


class EventBus:
    def __init__(self) -> None:
        self._events: deque[dict] = deque(maxlen=KEEP)
        self._listeners: list[Callable[[dict], None]] = []
        self._lock = threading.Lock()

    def emit(self, kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None) -> dict:
        now = time.time_ns()
        event = {
            "Type": kind,
            "Action": action,
            "Actor": {"ID": actor_id, "Attributes": dict(attributes or {})},
            "scope": "local",
            "time": now // 10**9,
            "timeNano": now,
        }
        if kind == "container":  # the fields of the API before 1.22, which the docker CLI still prints
            event |= {"status": action, "id": actor_id, "from": (attributes or {}).get("image", "")}
        with self._lock:
            self._events.append(event)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)
        return event

    def history(self) -> list[dict]:
        with self._lock:
            return list(self._events)

    def subscribe(self, listener: Callable[[dict], None]) -> list[dict]:
        """Start sending events to listener; returns those already kept (atomically: none lost between)."""
        with self._lock:
            self._listeners.append(listener)
            return list(self._events)

    def unsubscribe(self, listener: Callable[[dict], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)
