"""Image archives read and written without the kernel: every shape docker and OCI tools write,
and every malformed archive refused with a message naming what is wrong."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from dockyard.errors import InvalidParameter
from dockyard.image import archive
from dockyard.image.content import LocalContentStore
from support.images import (
    ArchiveWriter,
    TestImage,
    digest,
    directory,
    docker20_archive,
    docker25_archive,
    file,
    layer,
    oci_layout_archive,
)

BASE = layer(directory("etc"), file("etc/os-release", b"ID=test\n"))
TOP = layer(directory("app"), file("app/run", b"#!/bin/sh\n", mode=0o755))


@pytest.fixture
def store(tmp_path):
    return LocalContentStore(str(tmp_path / "content"))


def read(store, data: bytes) -> list[archive.FoundImage]:
    with store.lease() as lease:
        contents = archive.read_archive(io.BytesIO(data), store, lease)
        return archive.find_images(contents, store, lease)


def two_images(**kwargs) -> list[TestImage]:
    return [
        TestImage([BASE], tags=["base:1"], **kwargs),
        TestImage([BASE, TOP], tags=["example.com/team/app:2", "app:latest"], **kwargs),
    ]


@pytest.mark.parametrize("shape", [docker20_archive, docker25_archive, oci_layout_archive])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_every_shape_gives_the_images_with_their_configs_layers_and_names(store, shape, compress):
    images = two_images()
    found = sorted(read(store, shape(images, compress=compress)), key=lambda f: len(f.layers))
    assert [f.config.digest for f in found] == [image.id for image in images]
    assert [[layer.digest for layer in f.layers] for f in found] == [[digest(BASE)], [digest(BASE), digest(TOP)]]
    assert found[0].names == ["docker.io/library/base:1"]
    assert sorted(found[1].names) == ["docker.io/library/app:latest", "example.com/team/app:2"]


def test_oci_manifests_are_kept_byte_for_byte(store):
    image = two_images()[1]
    (found,) = [f for f in read(store, docker25_archive([image])) if f.layers]
    assert found.manifest.digest == digest(image.manifest)


def test_a_docker20_layer_that_repeats_is_a_link_to_its_first_copy(store):
    image = TestImage([BASE, TOP, BASE], tags=["again:1"])
    (found,) = read(store, docker20_archive([image]))
    assert [layer.digest for layer in found.layers] == [digest(BASE), digest(TOP), digest(BASE)]


def test_a_bare_tag_in_an_oci_layout_names_no_repository(store):
    image = TestImage([BASE], tags=["latest"])
    (found,) = read(store, oci_layout_archive([image]))
    assert found.names == []


def test_gzip_layers_get_the_gzip_media_type_in_a_docker20_archive(store):
    image = TestImage([BASE], tags=["gz:1"], gzip_layers=True)
    (found,) = read(store, docker20_archive([image]))
    assert found.layers[0].media_type == "application/vnd.oci.image.layer.v1.tar+gzip"


def test_written_archives_read_back_and_are_the_same_every_time(store):
    images = two_images()
    found = read(store, docker25_archive(images))
    saved = [archive.SavedImage(f.manifest, f.config, f.layers, f.names) for f in found]
    first, second = io.BytesIO(), io.BytesIO()
    archive.write_archive(first, saved, store)
    archive.write_archive(second, saved, store)
    assert first.getvalue() == second.getvalue()
    again = read(store, first.getvalue())
    assert {(f.manifest.digest, tuple(sorted(f.names))) for f in again} == {
        (f.manifest.digest, tuple(sorted(f.names))) for f in found
    }
    with tarfile.open(fileobj=io.BytesIO(first.getvalue())) as tar:
        manifest_json = json.load(tar.extractfile("manifest.json"))
        assert all(member.mtime == 0 and member.uid == 0 for member in tar.getmembers())
    assert sorted(tag for entry in manifest_json for tag in entry["RepoTags"]) == [
        "app:latest",
        "base:1",
        "example.com/team/app:2",
    ]


# -- bad archives --------------------------------------------------------------------------


def refused(store, data: bytes) -> str:
    with pytest.raises(InvalidParameter) as caught:
        read(store, data)
    return str(caught.value)


def test_a_corrupt_tarball_is_refused(store):
    assert "invalid image archive" in refused(store, b"this is not a tar archive at all" * 40)


def test_a_truncated_archive_is_refused(store):
    data = docker20_archive(two_images())
    assert "invalid image archive" in refused(store, data[: len(data) // 2 + 100])


def test_an_archive_without_manifest_or_index_is_refused(store):
    out = ArchiveWriter()
    out.add("hello.txt", b"hi")
    assert "neither manifest.json nor index.json" in refused(store, out.close())


def test_a_manifest_naming_a_missing_layer_is_refused(store):
    image = TestImage([BASE], tags=["x:1"])
    out = ArchiveWriter()
    out.add(f"{image.id.partition(':')[2]}.json", image.config)
    out.add_json("manifest.json", [{"Config": f"{image.id.partition(':')[2]}.json", "Layers": ["abc/layer.tar"]}])
    assert "layer abc/layer.tar is missing from the archive" in refused(store, out.close())


def test_a_blob_whose_content_does_not_match_its_name_is_refused(store):
    image = TestImage([BASE], tags=["x:1"])
    out = ArchiveWriter()
    for blob in (image.config, image.manifest):
        out.add(f"blobs/sha256/{digest(blob).partition(':')[2]}", blob)
    out.add(f"blobs/sha256/{digest(BASE).partition(':')[2]}", TOP)  # the wrong bytes under the name
    out.add_json("index.json", {"schemaVersion": 2, "manifests": [_descriptor(image.manifest)]})
    assert f"digest mismatch: blobs/sha256/{digest(BASE).partition(':')[2]} holds {digest(TOP)}" in refused(
        store, out.close()
    )


def _descriptor(manifest: bytes, media_type="application/vnd.oci.image.manifest.v1+json") -> dict:
    return {"mediaType": media_type, "digest": digest(manifest), "size": len(manifest)}


def test_an_unknown_media_type_is_refused_by_name(store):
    image = TestImage([BASE])
    out = ArchiveWriter()
    out.add(f"blobs/sha256/{digest(image.manifest).partition(':')[2]}", image.manifest)
    out.add_json(
        "index.json", {"schemaVersion": 2, "manifests": [_descriptor(image.manifest, "application/x-unheard-of")]}
    )
    assert "unknown media type 'application/x-unheard-of'" in refused(store, out.close())


def test_a_malformed_tag_in_manifest_json_is_refused(store):
    image = TestImage([BASE], tags=["UPPER:case"])
    assert "repository name" in refused(store, docker20_archive([image]))


def test_an_index_naming_a_missing_manifest_is_refused(store):
    image = TestImage([BASE])
    out = ArchiveWriter()
    out.add_json("index.json", {"schemaVersion": 2, "manifests": [_descriptor(image.manifest)]})
    assert "manifest blobs/sha256/" in refused(store, out.close())
