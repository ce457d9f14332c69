#!/usr/bin/env bash
# Regenerates tests/data/docker/: two tiny images made and saved by a real docker engine (Debian's
# docker.io, dockerd 20.10), for our loader and inspect to be compared with. Not run in CI; run it
# as root after scripts/setup.sh, then commit what changed (image IDs change on every run: docker
# puts the creation time in each config).
#
#   dy-fixture/base:1  `docker import` of a rootfs tarball made here: a static busybox (Debian's
#                      busybox-static) with sh/rm/mkdir/... symlinks, a hardlink pair, relative and
#                      absolute symlinks, a fifo, a setuid file, files and a directory owned by
#                      uid 1000, a sticky /tmp
#   dy-fixture/app:1   `docker build` (classic builder) FROM base: LABEL, ENV, WORKDIR, COPY,
#                      COPY --chown, CMD, and RUN steps that leave real docker-made whiteouts: a
#                      deleted file, one name of a hardlink pair deleted, a directory removed and
#                      re-created in the same step (opaque directory), a directory removed in one
#                      layer and re-created by a later one, a uid-1000 file modified (copy-up)
#
# Everything runs against a private dockerd (tests/support/dockerd.py): no Docker Hub, no network
# for the build (--network none), nothing left behind.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DY_DOCKERD_TMP:-}" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "scripts/make_docker_fixtures.sh: run as root (it starts a private dockerd)" >&2
    exit 1
  fi
  exec .venv/bin/python tests/support/dockerd.py -- "$0" "$@"
fi

out=tests/data/docker
busybox=${BUSYBOX:-/bin/busybox} # from busybox-static: static, so it runs with no libc in the image
work=$(mktemp -d /var/tmp/dy-fixture-work-XXXXXX)
trap 'rm -rf "$work"' EXIT
export DOCKER_BUILDKIT=0 # the classic builder: layers come from dockerd's own overlay2 differ
mtime=@1700000000        # fixed mtimes in the rootfs, so the base layer is the same bytes every run

[ -x "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 || {
  echo "scripts/make_docker_fixtures.sh: $busybox is not a static binary (apt-get install busybox-static)" >&2
  exit 1
}

# --- the base image: docker import of a rootfs tarball --------------------------------------------
root=$work/rootfs
mkdir -p "$root"/{bin,etc,usr/bin,home/user,data,opaque/sub,tmp,var/empty}
install -m 0755 "$busybox" "$root/bin/busybox"
for applet in sh ls rm mkdir ln cat echo touch chmod; do
  ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\n' >"$root/etc/group"
echo "dy-fixture base" >"$root/etc/dy-fixture"
printf '#!/bin/sh\necho setuid\n' >"$root/usr/bin/suid-tool"
chmod 4755 "$root/usr/bin/suid-tool"
echo "notes of user 1000" >"$root/home/user/notes.txt"
chmod 0640 "$root/home/user/notes.txt"
chmod 0750 "$root/home/user"
chown -R 1000:1000 "$root/home/user"
echo "one inode, two names" >"$root/data/hardlink-a"
ln "$root/data/hardlink-a" "$root/data/hardlink-b"
ln -s hardlink-a "$root/data/rel-link"
ln -s /etc/dy-fixture "$root/data/abs-link"
mkfifo -m 0644 "$root/data/fifo"
echo old-1 >"$root/opaque/old-1"
echo old-2 >"$root/opaque/old-2"
echo old-3 >"$root/opaque/sub/old-3"
echo "deleted in app" >"$root/remove-me.txt"
chmod 1777 "$root/tmp"
find "$root" -exec touch -h -d "$mtime" {} +
tar --numeric-owner --sort=name -C "$root" -cf "$work/base-rootfs.tar" .
sha256sum "$work/base-rootfs.tar" | cut -d' ' -f1 >"$work/base-rootfs.sha256"

docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'CMD ["/bin/sh"]' \
  --message "dy-fixture base rootfs" \
  "$work/base-rootfs.tar" dy-fixture/base:1 >/dev/null

# --- the app image: docker build FROM base ----------------------------------------------------------
ctx=$work/context
mkdir -p "$ctx/owned"
echo "app file" >"$ctx/app.txt"
printf '#!/bin/sh\necho "$GREETING"\n' >"$ctx/run.sh"
echo "owned by 1000" >"$ctx/owned/file.txt"
echo "re-created in a later layer" >"$ctx/later.txt"
chmod 0644 "$ctx/app.txt" "$ctx/owned/file.txt" "$ctx/later.txt"
chmod 0755 "$ctx/run.sh"
cat >"$ctx/Dockerfile" <<'EOF'
FROM dy-fixture/base:1
LABEL org.opencontainers.image.title="dy-fixture app" dy.fixture.stage="app"
ENV GREETING="hello from dy-fixture" APP_HOME=/app
WORKDIR /app
COPY app.txt run.sh /app/
COPY --chown=1000:1000 owned/ /app/owned/
RUN rm /remove-me.txt /data/hardlink-b && rm -rf /opaque && mkdir -p /opaque/new && echo new > /opaque/new/file
RUN rm -rf /var/empty && echo "appended by app" >> /home/user/notes.txt
COPY later.txt /var/empty/later.txt
WORKDIR /app/work
CMD ["/bin/sh", "/app/run.sh"]
EOF
find "$ctx" -exec touch -h -d "$mtime" {} +
docker build --network none --tag dy-fixture/app:1 "$ctx" >"$work/build.log" 2>&1 || {
  cat "$work/build.log" >&2
  exit 1
}

# --- save, export, inspect ---------------------------------------------------------------------------
mkdir -p "$out"
docker save --output "$work/images.tar" dy-fixture/base:1 dy-fixture/app:1
gzip -9 --no-name --stdout "$work/images.tar" >"$out/images.tar.gz"
for name in base app; do
  docker image inspect "dy-fixture/$name:1" >"$out/inspect-$name.json"
  container=$(docker create "dy-fixture/$name:1")
  docker export --output "$work/export-$name.tar" "$container"
  docker rm "$container" >/dev/null
done
docker version --format '{{json .}}' >"$work/version.json"
docker info --format '{{.Driver}}' >"$work/driver"

.venv/bin/python - "$work" "$out" <<'EOF'
"""Write fixtures.json from the saved archive, the inspect output and the exports."""

import datetime
import hashlib
import json
import os
import sys
import tarfile

work, out = sys.argv[1:]
TYPES = {
    tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink", tarfile.FIFOTYPE: "fifo", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block",
}  # fmt: skip
# What dockerd's init layer (daemon/initlayer) puts in every container's filesystem, and so in `docker export`:
# export entries with these paths are marked init_layer (their parents, such as etc, are the image's own).
INIT_LAYER = {
    "dev", "dev/pts", "dev/shm", "dev/console", "proc", "sys", ".dockerenv",
    "etc/resolv.conf", "etc/hosts", "etc/hostname", "etc/mtab",
}  # fmt: skip


def entry(member: tarfile.TarInfo, tar: tarfile.TarFile) -> dict:
    """One tar member as recorded; path is tarfile's name (a directory's trailing / dropped, ./ kept)."""
    item = {
        "path": member.name,
        "type": TYPES.get(member.type, repr(member.type)),
        "mode": f"{member.mode & 0o7777:04o}",
        "tar_mode": f"{member.mode:o}",  # docker's headers carry the file type bits too (100644)
        "uid": member.uid,
        "gid": member.gid,
        "mtime": member.mtime,
    }
    if member.uname or member.gname:
        item["uname"], item["gname"] = member.uname, member.gname
    if member.issym() or member.islnk():
        item["link"] = member.linkname
    if member.isreg():
        item["size"] = member.size
        item["sha256"] = hashlib.sha256(tar.extractfile(member).read()).hexdigest()
    if member.pax_headers:
        item["pax"] = dict(member.pax_headers)
    return item


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def listing(path: str) -> list[dict]:
    with tarfile.open(path) as tar:
        return [entry(m, tar) for m in tar]


archive_path = os.path.join(work, "images.tar")
with tarfile.open(archive_path) as tar:
    members = [{"name": m.name, "type": TYPES.get(m.type, repr(m.type)), "size": m.size} for m in tar]
    for member, item in zip(tar.getmembers(), members, strict=True):
        if member.issym():  # docker save links a layer two images share under different v1 ids
            item["link"] = member.linkname
    manifest = json.load(tar.extractfile("manifest.json"))
    repositories = json.load(tar.extractfile("repositories"))
    configs = {m["Config"]: json.load(tar.extractfile(m["Config"])) for m in manifest}
    layer_entries = {}
    for m in manifest:
        for layer in m["Layers"]:
            with tarfile.open(fileobj=tar.extractfile(layer)) as layer_tar:
                layer_entries[layer] = [entry(e, layer_tar) for e in layer_tar]
    layer_sha = {name: hashlib.sha256(tar.extractfile(name).read()).hexdigest() for name in layer_entries}

version = json.loads(read(os.path.join(work, "version.json")))
images = {}
for name in ("base", "app"):
    inspect = json.loads(read(os.path.join(out, f"inspect-{name}.json")))[0]
    tag = f"dy-fixture/{name}:1"
    (saved,) = [m for m in manifest if tag in m["RepoTags"]]
    config = configs[saved["Config"]]
    assert "sha256:" + saved["Config"].removesuffix(".json").split("/")[-1] == inspect["Id"]
    for layer, diff_id in zip(saved["Layers"], config["rootfs"]["diff_ids"], strict=True):
        assert "sha256:" + layer_sha[layer] == diff_id, (layer, diff_id)
    exported = listing(os.path.join(work, f"export-{name}.tar"))
    for item in exported:
        item["init_layer"] = item["path"] in INIT_LAYER
    if name == "base":  # docker import keeps the tarball's bytes (tar-split): the layer is our tar as it was
        assert config["rootfs"]["diff_ids"] == ["sha256:" + read(os.path.join(work, "base-rootfs.sha256")).strip()]
    images[tag] = {
        "id": inspect["Id"],
        "repo_tags": inspect["RepoTags"],
        "config_file": saved["Config"],
        "diff_ids": config["rootfs"]["diff_ids"],
        "layers": saved["Layers"],  # manifest.json order, bottom layer first
        "layer_entries": {layer: layer_entries[layer] for layer in saved["Layers"]},
        "history": config["history"],
        "export": exported,  # `docker export` of a created (never started) container, in tar order
    }

with open(os.path.join(out, "images.tar.gz"), "rb") as f:
    gz_sha = hashlib.sha256(f.read()).hexdigest()
with open(archive_path, "rb") as f:
    tar_sha = hashlib.sha256(f.read()).hexdigest()
fixtures = {
    "made_by": {
        "script": "scripts/make_docker_fixtures.sh",
        "date": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
        "docker_server": version["Server"]["Version"],
        "docker_api": version["Server"]["ApiVersion"],
        "docker_client": version["Client"]["Version"],
        "containerd": next(c["Version"] for c in version["Server"]["Components"] if c["Name"] == "containerd"),
        "storage_driver": read(os.path.join(work, "driver")).strip(),
        "builder": "classic (DOCKER_BUILDKIT=0)",
    },
    "archive": {
        "file": "images.tar.gz",
        "sha256": gz_sha,
        "tar_sha256": tar_sha,
        "members": members,
        "manifest.json": manifest,
        "repositories": repositories,
    },
    "images": images,
}
with open(os.path.join(out, "fixtures.json"), "w") as f:
    json.dump(fixtures, f, indent=1)
    f.write("\n")
print(f"{out}: " + ", ".join(f"{tag} {image['id'][:19]}" for tag, image in images.items()))
EOF
ls -l "$out"
