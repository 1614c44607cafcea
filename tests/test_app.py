"""The lab app's image context and page: built FROM scratch where a static busybox exists,
on a pullable busybox base elsewhere; the page parses the same from both engines."""

import io
import tarfile

from labkit import app


def members(context: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(context)) as tar:
        return {m.name: m for m in tar.getmembers()}


def dockerfile(context: bytes) -> str:
    with tarfile.open(fileobj=io.BytesIO(context)) as tar:
        return tar.extractfile("Dockerfile").read().decode()


def test_scratch_image_carries_busybox_and_its_applets(tmp_path):
    fake = tmp_path / "busybox"
    fake.write_bytes(b"\x7fELF static busybox stand-in")
    context, digest = app.build_context(fake)
    files = members(context)
    assert dockerfile(context).startswith("FROM scratch")
    assert files["rootfs/bin/busybox"].mode == 0o755
    assert files["rootfs/www/cgi-bin/index.cgi"].mode == 0o755
    for applet in app.APPLETS:
        assert files[f"rootfs/bin/{applet}"].linkname == "busybox"
    assert app.build_context(fake)[1] == digest, "the same inputs give the same digest: no rebuild"


def test_without_a_static_busybox_the_image_builds_on_a_base_image():
    context, digest = app.build_context(None)
    assert dockerfile(context).startswith("FROM busybox:")
    assert "rootfs/bin/busybox" not in members(context)
    assert app.build_context(None)[1] == digest


def test_dynamic_binaries_are_not_taken_for_static_busybox(tmp_path):
    dynamic = tmp_path / "busybox"
    dynamic.write_bytes(b"\x7fELF ... /lib64/ld-linux-x86-64.so.2 ...")
    assert not app._is_static(dynamic)


def test_page_round_trip():
    body = app.render_page(
        "172.17.0.2", "abc123", "[::ffff:172.17.0.1]:4242", ["172.17.0.2", "172.18.0.3"]
    )
    assert app.parse_page(body) == {
        "server_ip": "172.17.0.2",
        "hostname": "abc123",
        "client_addr": "[::ffff:172.17.0.1]:4242",
    }
    assert "All IPs: 172.17.0.2 172.18.0.3" in body
