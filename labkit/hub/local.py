"""A real JupyterHub on loopback, for the tests and ``make bench-workshop``.

``jupyterhub`` from PyPI (labkit's ``hub`` extra) with ``configurable-http-proxy`` from the npm
registry, installed once into a cache folder (``LABKIT_HUB_CACHE``, default
``~/.cache/labkit/hub``). The hub binds 127.0.0.1 on free ports, lets anyone in (dummy
authenticator) and starts each user's server as a local process under the hub's own folder
(``spawner_class="simple"``), through ``labkit hub singleuser``. A service token with the scopes
``admin:users``, ``admin:servers`` and ``access:servers`` drives it.

Every process of one hub (hub, proxy, user servers, kernels, per-user engines) carries
``LABKIT_HUB_RUN=<id>`` in its environment, so ``stop()`` can prove that nothing is left, and end
what is.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from labkit.errors import HubError
from labkit.hub.client import Hub

__all__ = ["LocalHub", "ensure_proxy", "run_processes", "RUN_MARK", "SERVICE_SCOPES"]

RUN_MARK = "LABKIT_HUB_RUN"
SERVICE_SCOPES = ("admin:users", "admin:servers", "access:servers")
PROXY_PACKAGE = "configurable-http-proxy@^5"
_NPM_TIMEOUT = 300.0


def _cache_dir() -> Path:
    if os.environ.get("LABKIT_HUB_CACHE"):
        return Path(os.environ["LABKIT_HUB_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "labkit" / "hub"


def ensure_proxy(cache: Path | None = None) -> Path:
    """The ``configurable-http-proxy`` executable: on PATH, else in the cache, else npm installs it.

    Raises HubError when npm is missing or the install fails.
    """
    found = shutil.which("configurable-http-proxy")
    if found:
        return Path(found)
    cache = cache or _cache_dir()
    exe = cache / "node_modules" / ".bin" / "configurable-http-proxy"
    if exe.exists():
        return exe
    npm = shutil.which("npm")
    if npm is None:
        raise HubError(
            "configurable-http-proxy is not installed",
            "JupyterHub needs it and npm, which installs it, is not on PATH",
            "install Node.js and npm (Debian: apt-get install nodejs npm), then run this again",
        )
    cache.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund", PROXY_PACKAGE],
            capture_output=True,
            text=True,
            timeout=_NPM_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise HubError(
            "npm did not install configurable-http-proxy in time",
            f"no answer within {_NPM_TIMEOUT:.0f} s",
            "check that the npm registry is reachable, then run this again",
        ) from exc
    if done.returncode != 0 or not exe.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise HubError(
            "npm could not install configurable-http-proxy",
            tail[0],
            f"run `npm install --prefix {cache} {PROXY_PACKAGE}` to see the whole error",
        )
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_processes(run_id: str) -> list[int]:
    """The PIDs of every live process carrying ``LABKIT_HUB_RUN=run_id`` (needs psutil)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(RUN_MARK) == run_id and proc.pid != os.getpid():
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


_CONFIG = """\
# Written by labkit.hub.local: a JupyterHub on loopback for labkit's tests and benchmark.
c = get_config()  # noqa
c.JupyterHub.bind_url = {bind_url!r}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = {db_url!r}
c.JupyterHub.cookie_secret_file = {cookie!r}
c.JupyterHub.pid_file = {hub_pid!r}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.ConfigurableHTTPProxy.api_url = {proxy_api!r}
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = {proxy_pid!r}
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {home!r}
c.Spawner.cmd = {cmd!r}
c.Spawner.args = {args!r}
c.Spawner.environment = {environment}
c.Spawner.default_url = "/lab"
# Thirty servers starting at once on two cores take a while; stopping is bounded.
c.Spawner.start_timeout = {start_timeout}
c.Spawner.http_timeout = {start_timeout}
c.Spawner.interrupt_timeout = 15
c.Spawner.term_timeout = 5
c.Spawner.kill_timeout = 5
c.JupyterHub.services = [{{"name": "labkit", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [
    {{"name": "labkit-instructor", "scopes": {scopes!r}, "services": ["labkit"]}}
]
"""


class LocalHub:
    """A JupyterHub on 127.0.0.1 in ``workdir``: ``with LocalHub(dir, environment={...}) as hub:``.

    ``environment`` is what every user's server gets (the engine choice: ``LABKIT_ENGINE``,
    ``DOCKER_HOST``; ``{username}`` in a value becomes each user's name); the hub adds
    ``JUPYTERHUB_USER`` and the rest itself.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        environment: Mapping[str, str] | None = None,
        python: str = sys.executable,
        proxy: Path | None = None,
        start_timeout: int = 180,
    ) -> None:
        self.workdir = Path(workdir)
        self.run_id = secrets.token_hex(6)
        self.token = secrets.token_hex(24)
        self.port, self.hub_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Kernels talk over unix sockets, whose paths must stay short: a runtime folder per user
        # outside the (deep) home folders of a test's hub.
        self._runtime = Path(tempfile.gettempdir()) / f"lkrt-{self.run_id}"
        self.environment = {
            "JUPYTER_RUNTIME_DIR": f"{self._runtime}-{{username}}",
            **(environment or {}),
            RUN_MARK: self.run_id,
        }
        self.python = python
        self.proxy = proxy
        self.start_timeout = start_timeout
        self.log_path = self.workdir / "hub.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def home(self, user: str) -> Path:
        return self.workdir / "home" / user

    def client(self, timeout: float = 30.0) -> Hub:
        return Hub(self.url, self.token, timeout=timeout)

    def _config(self, proxy: Path) -> str:
        w = self.workdir
        return _CONFIG.format(
            bind_url=self.url,
            hub_port=self.hub_port,
            db_url=f"sqlite:///{w / 'jupyterhub.sqlite'}",
            cookie=str(w / "cookie_secret"),
            hub_pid=str(w / "hub.pid"),
            proxy_api=f"http://127.0.0.1:{self.proxy_api_port}",
            proxy=str(proxy),
            proxy_pid=str(w / "proxy.pid"),
            home=str(w / "home" / "{username}"),
            cmd=[self.python, "-m", "labkit.hub.singleuser"],
            # As root the single-user server refuses to start without it (and the spawn times out).
            args=["--allow-root"] if os.geteuid() == 0 else [],
            environment=_environment_code(self.environment),
            start_timeout=self.start_timeout,
            token=self.token,
            scopes=list(SERVICE_SCOPES),
        )

    def start(self, timeout: float = 60.0) -> None:
        """Start the hub and wait (bounded) until its REST API answers. Raises HubError."""
        proxy = self.proxy or ensure_proxy()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "jupyterhub_config.py"
        config.write_text(self._config(proxy))
        bindir = str(Path(self.python).parent)
        env = {
            **os.environ,
            RUN_MARK: self.run_id,
            "PATH": os.pathsep.join([str(proxy.parent), bindir, os.environ.get("PATH", "")]),
            "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(24),
        }
        hub_exe = Path(bindir) / "jupyterhub"
        if not hub_exe.exists():
            raise HubError(
                "JupyterHub is not installed",
                f"there is no {hub_exe}",
                "pip install 'labkit[hub]' (or run `make .venv/.labkit-installed`)",
            )
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(hub_exe), "-f", str(config)],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        hub = self.client(timeout=5)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise HubError(
                    "JupyterHub exited while starting",
                    self._log_tail(),
                    f"read {self.log_path}",
                )
            try:
                hub.version()
                return
            except HubError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise HubError(
                        "JupyterHub did not answer",
                        f"no answer at {self.url} within {timeout:.0f} s",
                        f"read {self.log_path}",
                    ) from None
                time.sleep(0.3)

    def _log_tail(self, lines: int = 3) -> str:
        try:
            return " | ".join(
                self.log_path.read_text(errors="replace").strip().splitlines()[-lines:]
            )
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 90.0) -> list[int]:
        """Stop the hub (it stops every server and the proxy), then end anything of this run that
        is still alive. Returns the PIDs that had to be ended that way (none, when all went well)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(10)
        self._proc = None
        stragglers = run_processes(self.run_id)
        for pid in stragglers:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and run_processes(self.run_id):
            time.sleep(0.3)
        for pid in run_processes(self.run_id):
            _signal(pid, signal.SIGKILL)
        for folder in self._runtime.parent.glob(f"{self._runtime.name}-*"):
            shutil.rmtree(folder, ignore_errors=True)
        return stragglers

    def __enter__(self) -> LocalHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _environment_code(environment: Mapping[str, str]) -> str:
    """The spawner's environment as config code; ``{username}`` in a value is each user's name."""
    items = []
    for key, value in environment.items():
        if "{username}" in value:
            items.append(f"{key!r}: lambda spawner: {value!r}.format(username=spawner.user.name)")
        else:
            items.append(f"{key!r}: {value!r}")
    return "{" + ", ".join(items) + "}"


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
