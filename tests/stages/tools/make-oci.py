#!/usr/bin/env python3
"""Write a small single-platform OCI image layout (for skopeo to push to a test registry).

usage: make-oci.py DIR TAG UNIQUE_BYTES [SHARED_BYTES]

DIR gets an OCI layout (oci-layout, index.json, blobs/sha256/...) holding one image tagged TAG,
linux/amd64, with a shared base layer of SHARED_BYTES (default 4096, the same bytes for every image
made with the same size, so registries and containerd see a layer shared between images) and a
layer of UNIQUE_BYTES of random data. Layers are plain tars (incompressible content anyway).
Prints the manifest digest.
"""
import hashlib
import io
import json
import os
import random
import sys
import tarfile


def blob(root, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(root, "blobs", "sha256", digest)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
    return "sha256:" + digest, len(data)


def layer_tar(name, payload):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def main():
    root, tag, unique = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shared = int(sys.argv[4]) if len(sys.argv) > 4 else 4096
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
    base = layer_tar("base.bin", random.Random(shared).randbytes(shared))
    top = layer_tar("image.bin", os.urandom(unique))
    layers = []
    for data in (base, top):
        digest, size = blob(root, data)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size})
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/image.bin"]},
        "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]},
        "history": [{"created_by": "kiln tests/stages/tools/make-oci.py"}],
    }
    cdigest, csize = blob(root, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
        "layers": layers,
    }
    mdigest, msize = blob(root, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": mdigest,
                "size": msize,
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(mdigest)


if __name__ == "__main__":
    main()
