"""Runs untrusted Python (custom_code steps, code written by agents) in a locked-down child process.

Layers, each enough on its own for the common attacks:
- a separate process started with `python -I` (no user site, no PYTHON* variables), an
  environment holding only what numpy needs, a fresh scratch directory as cwd and HOME;
- resource limits set between fork and exec: CPU seconds, address space (memory bombs
  end in MemoryError), file size, open files, no core dumps, and RLIMIT_NPROC (new
  processes; note the kernel does not apply it to root, hence the audit hook);
- the runner (execution/sandbox_runner.py) installs an audit hook that refuses
  sockets, subprocesses, fork/exec, ctypes and writes outside the scratch dir, and an
  import allow-list for the user's own imports (numpy, pandas, scipy, pure stdlib);
- a wall-clock timeout that kills the child's whole process group.
"""

import json
import logging
import math
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

RUNNER = Path(__file__).with_name("sandbox_runner.py")
MAX_OUTPUT_CHARS = 64_000
MAX_TIMEOUT_SECONDS = 300.0
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_OPEN_FILES = 256
# The interpreter's own start-up, on top of the timeout the code is given.
STARTUP_ALLOWANCE_SECONDS = 1


@dataclass
class SandboxResult:
    ok: bool
    result: object = None
    stdout: str = ""
    stderr: str = ""
    error: str = ""
    timed_out: bool = False
    exit_code: int | None = None
    duration_ms: int = 0
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _limit_resources(cpu_seconds: int, memory_bytes: int):
    def apply_limits() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
        resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_OPEN_FILES, MAX_OPEN_FILES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))

    return apply_limits


def _sandbox_environment(scratch: str) -> dict:
    single_thread = "1"  # one BLAS/OpenMP thread: no thread pools inside the limits
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": scratch,
        "TMPDIR": scratch,
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": single_thread,
        "OMP_NUM_THREADS": single_thread,
        "MKL_NUM_THREADS": single_thread,
        "NUMEXPR_NUM_THREADS": single_thread,
        "MPLBACKEND": "Agg",
    }


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _truncate(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return text[:MAX_OUTPUT_CHARS] + f"\n… [{len(text) - MAX_OUTPUT_CHARS} more characters cut]"


def run_code(code: str, *, inputs: dict | None = None, timeout: float | None = None, memory_mb: int | None = None):
    """Run `code` in the sandbox; its `inputs` variable holds `inputs`, its `result` variable comes back.

    `timeout` (default settings.SANDBOX_TIMEOUT_SECONDS, at most 300 s) covers the whole child,
    imports included; memory is at most settings.SANDBOX_MEMORY_MB.

    Never raises for anything the code does: the SandboxResult says what happened.
    """
    timeout = min(float(timeout or settings.SANDBOX_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS)
    memory_mb = int(memory_mb or settings.SANDBOX_MEMORY_MB)
    memory_mb = min(memory_mb, int(settings.SANDBOX_MEMORY_MB))
    nonce = secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix="tw-sandbox-")
    scratch = os.path.join(workdir, "scratch")
    os.mkdir(scratch)
    request = json.dumps({"code": code, "inputs": inputs or {}, "nonce": nonce, "scratch": scratch}, default=str)
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", str(RUNNER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=scratch,
            env=_sandbox_environment(scratch),
            preexec_fn=_limit_resources(math.ceil(timeout) + STARTUP_ALLOWANCE_SECONDS, memory_mb * 1024 * 1024),
            close_fds=True,
            start_new_session=True,  # its own process group, killed as a whole
        )
        timed_out = False
        try:
            stdout, stderr = process.communicate(request.encode(), timeout=timeout + STARTUP_ALLOWANCE_SECONDS)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            stdout, stderr = process.communicate()
        _kill_group(process)  # anything the code left behind in its group
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    duration_ms = int((time.monotonic() - started) * 1000)
    return _result_from(process.returncode, stdout, stderr, nonce, timed_out, timeout, duration_ms)


def _result_from(exit_code, stdout: bytes, stderr: bytes, nonce: str, timed_out: bool, timeout, duration_ms):
    out_text = stdout.decode("utf-8", errors="replace")
    err_text = _truncate(stderr.decode("utf-8", errors="replace"))
    user_output, marker, envelope_text = out_text.rpartition(nonce)
    if not marker:
        user_output, envelope_text = out_text, ""
    user_output = _truncate(user_output.removesuffix("\n"))
    envelope = {}
    if envelope_text:
        try:
            envelope = json.loads(envelope_text)
        except ValueError:
            envelope = {"error": "sandbox: the result could not be read"}
    if timed_out:
        error = f"sandbox: the code ran longer than {timeout:g} s and was stopped"
    elif exit_code is not None and exit_code < 0:
        killed_by = signal.Signals(-exit_code).name if -exit_code in signal.Signals._value2member_map_ else exit_code
        if killed_by == "SIGXCPU":
            error = f"sandbox: the code used more than its CPU time limit ({timeout:g} s) and was stopped"
        else:
            error = f"sandbox: the process was killed ({killed_by})"
    elif not envelope:
        error = f"sandbox: the process exited with code {exit_code} without a result"
    else:
        error = envelope.get("error", "")
    details = {"traceback": envelope["traceback"]} if envelope.get("traceback") else {}
    return SandboxResult(
        ok=not error,
        result=envelope.get("result"),
        stdout=user_output,
        stderr=err_text,
        error=error,
        timed_out=timed_out,
        exit_code=exit_code,
        duration_ms=duration_ms,
        details=details,
    )
