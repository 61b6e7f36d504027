"""vLLM's OpenAI-compatible server, run in its own environment (``make serve-setup``) on a prepared directory.

``VLLMServer`` is a context manager: it starts ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm``
console script of the CPU build fails looking up its distribution name), writes the server's output to a log
file, waits for ``/health`` and on exit stops the whole process group (SIGTERM, then SIGKILL after a grace period;
vLLM runs its engine in child processes).

Security defaults: the server binds 127.0.0.1; any other address needs an API key, and then every ``/v1`` request
without ``Authorization: Bearer KEY`` gets 401. The key travels in ``VLLM_API_KEY`` (not on the command line,
where ``ps`` would show it).
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
VENV_ENV = "SKYWORK_VLLM_VENV"
VENV_NAME = ".venv-vllm"
DEFAULT_KVCACHE_GIB = 2  # VLLM_CPU_KVCACHE_SPACE; vLLM's CPU backend reserves this much for the KV cache
DEFAULT_MAX_MODEL_LEN = 4096


class ServeError(RuntimeError):
    """The server cannot be started (or died); the message says why, with the log's tail where there is one."""


def find_vllm_python() -> Path | None:
    """The vLLM environment's python: ``$SKYWORK_VLLM_VENV``, else ``.venv-vllm`` here or above the package."""
    env = os.environ.get(VENV_ENV)
    candidates = [Path(env)] if env else []
    candidates += [Path.cwd() / VENV_NAME] + [p / VENV_NAME for p in Path(__file__).resolve().parents]
    for venv in candidates:
        python = venv / "bin" / "python"
        if python.exists():
            return python
    return None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_key: str | None) -> None:
    """Refuse to serve on a non-loopback address without an API key."""
    if not is_loopback(host) and not api_key:
        raise ServeError(
            f"refusing to bind {host} without an API key: anyone who can reach it could use the model "
            "(pass --api-key, or keep the default host 127.0.0.1)"
        )


# flags the server sets itself (or that would undo a security default): not accepted through --vllm-arg
MANAGED_FLAGS = (
    "--model", "--served-model-name", "--host", "--port", "--api-key", "--dtype", "--max-model-len",
    "--trust-remote-code", "--allowed-local-media-path", "--uds",
)  # fmt: skip


def check_extra_args(args: list[str]) -> list[str]:
    """``args`` for vLLM's server, refused when one sets a flag that ``skywork serve`` manages.

    ``--host`` would bypass :func:`check_exposure`, ``--trust-remote-code`` runs a checkpoint's Python, and the
    others have their own ``skywork serve`` options; anything else (``--stream-interval 4``, ``--max-num-seqs 64``)
    goes to vLLM as given. vLLM's parser (argparse) also takes unambiguous abbreviations (``--hos`` for
    ``--host``), so a flag that begins a managed one is refused too.
    """
    for arg in args:
        words = arg.split("=", 1)[0].split()
        flag = words[0].replace("_", "-") if words else ""
        if flag.startswith("--") and len(flag) > 2 and any(m.startswith(flag) for m in MANAGED_FLAGS):
            raise ServeError(
                f"{arg!r} is not accepted as an extra vLLM argument: skywork serve sets {flag} itself "
                "(use its own option; --trust-remote-code and --allowed-local-media-path are never passed)"
            )
    return list(args)


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port that was free a moment ago (for tests and ``--port 0``)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def default_max_model_len(model_dir: Path) -> int:
    """The model's context, capped at 4096 so the KV cache fits the default CPU reservation."""
    config = json.loads((Path(model_dir) / "config.json").read_text())
    return min(int(config.get("max_position_embeddings", DEFAULT_MAX_MODEL_LEN)), DEFAULT_MAX_MODEL_LEN)


@dataclass
class VLLMServer:
    """One vLLM OpenAI server on ``model_dir`` (a :func:`~skywork.serve.prepare.prepare_vllm_dir` output)."""

    model_dir: Path
    served_model_name: str
    host: str = DEFAULT_HOST
    port: int = 8000
    api_key: str | None = None
    max_model_len: int | None = None
    kvcache_gib: int = DEFAULT_KVCACHE_GIB  # vLLM parses it as an int ("1.0" fails its config validation)
    log_path: Path | None = None
    startup_timeout_s: float = 600.0
    stop_timeout_s: float = 30.0
    python: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = field(default=None, init=False, repr=False)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def command(self) -> list[str]:
        python = self.python or find_vllm_python()
        if python is None:
            raise ServeError(
                f"no vLLM environment ({VENV_NAME}/ or ${VENV_ENV}): create it with `make serve-setup`"
            )
        max_len = self.max_model_len or default_max_model_len(self.model_dir)
        return [
            str(python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir),
            "--served-model-name", self.served_model_name,
            "--host", self.host,
            "--port", str(self.port),
            "--dtype", "bfloat16",
            "--max-model-len", str(max_len),
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> VLLMServer:
        """Start the server and return once ``/health`` answers 200; raise :class:`ServeError` otherwise."""
        check_exposure(self.host, self.api_key)
        if self.port == 0:
            self.port = free_port(self.host)
        command = self.command()
        env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE=str(int(self.kvcache_gib)), PYTHONUNBUFFERED="1")
        env.pop("VLLM_API_KEY", None)
        if self.api_key:
            env["VLLM_API_KEY"] = self.api_key
        env.pop("PYTHONPATH", None)  # the vLLM environment must not see our package's environment
        if self.log_path is None:
            self.log_path = Path(self.model_dir).parent / f"vllm-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServeError(f"vLLM exited with status {self.process.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return
            time.sleep(1.0)
        raise ServeError(
            f"vLLM did not become healthy within {self.startup_timeout_s:.0f} s:\n{self.log_tail()}"
        )

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/health", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after ``stop_timeout_s``; safe to call twice."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=10.0)
        _signal_group(process.pid, signal.SIGKILL)  # engine workers left behind by a server that died

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
