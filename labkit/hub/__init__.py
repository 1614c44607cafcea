"""labkit on a JupyterHub: what a workshop needs from the hub, each piece in a module of its own.

- ``singleuser``: the command a hub starts for each student (``labkit hub singleuser``): gives the
  server its namespace from the hub (``JUPYTERHUB_USER``) and, where no engine is handed to it,
  its own simulated engine; then runs ``jupyterhub-singleuser`` and stops that engine after it.
- ``extension``: a Jupyter server extension in each student's server, ``GET /labkit/status``:
  that student's namespace, engine, objects and progress, read where the student's kernels left them.
- ``client``: the hub's REST API (users, servers) and a user's server's kernels over REST and
  websocket, for the instructor's view, the tests and the workshop benchmark.
- ``room``: the instructor's view through the hub (``labkit hub status``).
- ``local``: a real JupyterHub on loopback (dummy authenticator, local processes), for the tests
  and ``make bench-workshop``.

It lives inside the package (not in a top-level ``hub/`` folder) because a hub's single-user image
runs it: the start command and the server extension must be installed with the course.
``import labkit`` does not import this package; nothing here imports jupyterhub itself.
"""

__all__: list[str] = []
