"""The lab app: the course's stand-in for the lab text's ``mycontainer:5.6``.

A web page that reports the Server IP, hostname and client address. On a real engine it is an
image built with no registry: ``FROM scratch`` plus the host's static busybox (httpd + a CGI
script), or — where no static busybox exists — on top of a ``busybox`` base image the engine can
pull. The simulator serves the same page through ``render_page``.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tarfile
from pathlib import Path

__all__ = ["render_page", "parse_page", "build_context", "static_busybox", "PAGE_TITLE", "APPLETS"]

PAGE_TITLE = "labkit lab app (the course's mycontainer:5.6)"

# busybox httpd runs /cgi-bin/index.cgi for "/" when there is no index.html.
_CGI = """#!/bin/sh
bb=/bin/busybox
ips=$($bb ip -o -4 addr show scope global 2>/dev/null | $bb awk '{split($4, a, "/"); print a[1]}')
first=$(echo "$ips" | $bb head -n 1)
echo "Content-Type: text/plain; charset=utf-8"
echo ""
echo "{title}"
echo "Server IP: ${first:-none}"
echo "All IPs: $(echo $ips)"
echo "Hostname: $($bb hostname)"
echo "Client: ${REMOTE_ADDR}:${REMOTE_PORT}"
""".replace("{title}", PAGE_TITLE)

# Commands a student may `docker exec` in the app container, as in the lab's mycontainer image.
APPLETS = (
    "sh",
    "ip",
    "ifconfig",
    "route",
    "ping",
    "nslookup",
    "wget",
    "nc",
    "timeout",
    "hostname",
    "cat",
    "ls",
    "ps",
    "netstat",
)

_CMD = '["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]'

_SCRATCH_DOCKERFILE = f"""FROM scratch
COPY rootfs/ /
EXPOSE 80
CMD {_CMD}
"""

# Fallback where the machine has no static busybox to copy in: a base image the engine can pull.
_BASE_DOCKERFILE = f"""FROM busybox:1.36
COPY rootfs/www /www
EXPOSE 80
CMD {_CMD}
"""


def render_page(
    server_ip: str, hostname: str, client: str, all_ips: list[str] | None = None
) -> str:
    """The body the lab app answers with; the simulator serves exactly this."""
    ips = " ".join(all_ips if all_ips is not None else [server_ip])
    return (
        f"{PAGE_TITLE}\nServer IP: {server_ip or 'none'}\nAll IPs: {ips}\n"
        f"Hostname: {hostname}\nClient: {client}\n"
    )


_FIELDS = {"Server IP": "server_ip", "Hostname": "hostname", "Client": "client_addr"}
_LINE = re.compile(r"^(Server IP|Hostname|Client): *(\S*)\s*$", re.M)


def parse_page(body: str) -> dict[str, str]:
    """Pick Server IP, hostname and client address out of the app's page."""
    return {_FIELDS[key]: value for key, value in _LINE.findall(body) if value}


def static_busybox() -> Path | None:
    """A statically linked busybox on this machine (Debian's busybox-static), if any."""
    for candidate in ("/bin/busybox", "/usr/bin/busybox", shutil.which("busybox") or ""):
        path = Path(candidate)
        if candidate and path.is_file() and _is_static(path):
            return path
    return None


def _is_static(path: Path) -> bool:
    # A dynamically linked ELF names its interpreter (ld-linux) in a PT_INTERP header.
    try:
        head = path.read_bytes()[: 1 << 16]
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and b"ld-linux" not in head and b"/lib/ld-" not in head


def build_context(busybox: Path | None) -> tuple[bytes, str]:
    """A tar build context for the lab app image and a digest of what it contains."""
    buf = io.BytesIO()
    digest = hashlib.sha256(_CGI.encode())
    digest.update(" ".join(APPLETS).encode())
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dockerfile = _SCRATCH_DOCKERFILE if busybox else _BASE_DOCKERFILE
        digest.update(dockerfile.encode())
        _add_file(tar, "Dockerfile", dockerfile.encode(), 0o644)
        _add_file(tar, "rootfs/www/cgi-bin/index.cgi", _CGI.encode(), 0o755)
        if busybox:
            data = busybox.read_bytes()
            digest.update(data)
            _add_file(tar, "rootfs/bin/busybox", data, 0o755)
            for applet in APPLETS:
                link = tarfile.TarInfo(f"rootfs/bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
    return buf.getvalue(), digest.hexdigest()[:16]


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))
