"""Serving the dashboard: bind the address first (a port in use is a one-line error,
not a traceback), then run uvicorn on that socket."""
from __future__ import annotations

import errno
import ipaddress
import socket
import threading
from pathlib import Path

from ..errors import EvoError


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or EvoError saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise EvoError(f"cannot listen on {host}:{port}: unknown host ({e.strerror})") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart right after a stop works
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        sock.close()
        why = "address already in use (another dashboard? choose another --port)" if e.errno == errno.EADDRINUSE \
            else e.strerror or str(e)
        raise EvoError(f"cannot listen on {host}:{port}: {why}") from None
    sock.set_inheritable(True)
    return sock


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


def make_server(runs_dir: Path, host: str = "127.0.0.1", port: int = 8265, warm: bool = True):
    """(uvicorn server, its bound socket, its URL). `server.run(sockets=[sock])` serves."""
    try:
        import uvicorn

        from .app import create_app
    except ImportError as e:
        raise EvoError(f"the dashboard needs {e.name}: pip install 'evo-kernels[dashboard]'") from None
    if Path(runs_dir).exists() and not Path(runs_dir).is_dir():
        raise EvoError(f"{runs_dir} is not a directory")
    sock = listen(host, port)
    trusted = sorted({"127.0.0.1", "localhost", host}) if is_loopback(host) else None
    app = create_app(Path(runs_dir), trusted_hosts=trusted)
    if warm:  # parse the logs now, in the background: the first page load then only reads what is new
        threading.Thread(target=app.state.dashboard.warm, name="evo-dashboard-warm", daemon=True).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=False, lifespan="off",
                            server_header=False)
    return uvicorn.Server(config), sock, url_of(sock)


def serve(runs_dir: Path, host: str = "127.0.0.1", port: int = 8265, echo=print) -> None:
    """Serve until interrupted (Ctrl-C)."""
    server, sock, url = make_server(runs_dir, host, port)
    where = "" if is_loopback(host) else " (reachable from other machines: the page is read-only)"
    echo(f"evo dashboard: {url} serving {runs_dir}{where}; Ctrl-C stops it")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        server.config.app.state.dashboard.close()
