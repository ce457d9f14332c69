"""An OCI bundle directory for tests: config.json beside rootfs/, with a unique container id."""

from __future__ import annotations

import json
import os
import uuid


class Bundle:
    def __init__(self, path: str, config: dict) -> None:
        self.path = path
        self.config = config
        self.id = "dy-test-" + uuid.uuid4().hex[:10]

    @property
    def rootfs(self) -> str:
        return os.path.join(self.path, "rootfs")

    def write(self) -> Bundle:
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f)
        return self
