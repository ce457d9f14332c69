"""The rows of docker images: one ImageContext per repository and tag of each image summary."""

from __future__ import annotations

from dockyard.cli.formatting.context import NONE, Context
from dockyard.cli.formatting.display import ago, go_time, truncate_id
from dockyard.cli.formatting.formatter import QUIET, RAW, TABLE
from dockyard.units import human_size

IMAGE_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)
IMAGE_TABLE_DIGEST = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}"
    "\t{{.Size}}"
)
IMAGE_RAW = (
    "repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\n"
    "virtual_size: {{.Size}}\n"
)

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import ClassVar
IMAGE_RAW_DIGEST = (
    "repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\nimage_id: {{.ID}}\n"
    "created_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n"
)


def image_format(source: str, quiet: bool = False, digest: bool = False) -> str:
    """NewImageFormat: the format of docker images for --format `source` (-q, --digests)."""
    if source == TABLE:
        return QUIET if quiet else IMAGE_TABLE_DIGEST if digest else IMAGE_TABLE
    if source == RAW:
        return "image_id: {{.ID}}" if quiet else IMAGE_RAW_DIGEST if digest else IMAGE_RAW
    if source.startswith(TABLE) and digest and "{{.Digest}}" not in source:
        return source + "\t{{.Digest}}"
    return source


class ImageContext(Context):
    go_type = "*formatter.imageContext"
    HEADERS: ClassVar[dict[str, str]] = {
        "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "CreatedSince": "CREATED",
        "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS", "VirtualSize": "SIZE",
        "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
    }  # fmt: skip

    def __init__(self, image: dict, repo: str = NONE, tag: str = NONE, digest: str = NONE, trunc: bool = True) -> None:
        self.i = image
        self.repo, self.tag, self.digest = repo, tag, digest
        self.trunc = trunc

    def ID(self) -> str:
        return truncate_id(self.i.get("Id", "")) if self.trunc else self.i.get("Id", "")

    def Repository(self) -> str:
        return self.repo

    def Tag(self) -> str:
        return self.tag

    def Digest(self) -> str:
        return self.digest

    def CreatedSince(self) -> str:
        return ago(self.i.get("Created", 0))

    def CreatedAt(self) -> str:
        return go_time(self.i.get("Created", 0))

    def Size(self) -> str:
        return human_size(self.i.get("Size", 0), 3)

    def Containers(self) -> str:
        count = self.i.get("Containers", -1)
        return "N/A" if count == -1 else str(count)

    def VirtualSize(self) -> str:
        return human_size(self.i.get("Size", 0))

    def SharedSize(self) -> str:
        shared = self.i.get("SharedSize", -1)
        return "N/A" if shared == -1 else human_size(shared)

    def UniqueSize(self) -> str:
        size, shared = self.i.get("Size", -1), self.i.get("SharedSize", -1)
        return "N/A" if size == -1 or shared == -1 else human_size(size - shared)


def image_contexts(images: list[dict], fmt: str, digest: bool = False, trunc: bool = True) -> list[ImageContext]:
    """One row per repository and tag (and digest, with --digests), as docker images lists them."""
    from dockyard.errors import InvalidParameter
    from dockyard.image import reference

    need_digest = digest or "{{.Digest}}" in fmt
    rows = []
    for image in images:
        tags, digests = image.get("RepoTags") or [], image.get("RepoDigests") or []
        if _dangling(tags, digests):
            rows.append(ImageContext(image, trunc=trunc))
            continue
        repo_tags: dict[str, list[str]] = {}
        repo_digests: dict[str, list[str]] = {}
        for text in tags:
            try:
                ref = reference.parse(text, default_tag=False)
            except InvalidParameter:
                continue
            if ref.tag:
                repo_tags.setdefault(ref.familiar_name, []).append(ref.tag)
        for text in digests:
            try:
                ref = reference.parse(text, default_tag=False)
            except InvalidParameter:
                continue
            if ref.digest:
                repo_digests.setdefault(ref.familiar_name, []).append(ref.digest)
        for repo, repo_tag_list in repo_tags.items():
            repo_digest_list = repo_digests.pop(repo, [])
            if not need_digest:
                repo_digest_list = []
            for tag in repo_tag_list:
                for dgst in repo_digest_list or [NONE]:
                    rows.append(ImageContext(image, repo, tag, dgst, trunc))
        for repo, repo_digest_list in repo_digests.items():
            if digest:
                rows.extend(ImageContext(image, repo, NONE, d, trunc) for d in repo_digest_list)
            else:
                rows.append(ImageContext(image, repo, NONE, "", trunc))
    return rows


def _dangling(tags: list[str], digests: list[str]) -> bool:
    if not tags and not digests:
        return True
    return tags == ["<none>:<none>"] and digests == ["<none>@<none>"]
