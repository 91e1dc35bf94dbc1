"""Runs untrusted Python (custom_code steps, code written by agents) in an isolated child of this process.

This process is the worker (embedded and services mode) or the sandbox service (compose,
agents/sandbox/service.py); either way this is the one place a sandbox is built.

The wall is the operating system: the child runs under bubblewrap (settings.SANDBOX_BWRAP_PATH)
in its own user, pid, network, mount, IPC and UTS namespaces, as the unprivileged user nobody,
with no capabilities. A root worker starts bubblewrap as nobody (agents/sandbox/unprivileged.py),
so the child is nobody on the host as well, not root mapped to nobody. Its file system holds
only read-only binds of the system libraries (/usr), the interpreter's prefix and the allowed
libraries (numpy, pandas, scipy and what they need), a fresh /proc of its own pid namespace, a
minimal /dev and a small tmpfs scratch directory: no project directory, no var/, no .env, no
other process. Its environment is a handful of fixed variables (the bwrap process itself is
started with only those, so its /proc/1/environ holds no secret either).

Inner layers, unchanged:
- resource limits set between fork and exec and inherited by the child: CPU seconds, address
  space (memory bombs end in MemoryError), file size, open files, no core dumps; the runner
  adds RLIMIT_NPROC (note the kernel does not apply it to root, hence the audit hook);
- the runner (agents/sandbox/runner.py) installs an audit hook that refuses sockets,
  subprocesses, fork/exec, ctypes and writes outside the scratch dir, and an import allow-list
  for the user's own imports (numpy, pandas, scipy, pure stdlib);
- a wall-clock timeout that kills the child's whole process group.

A child started inside `children_scope()` (agents/sandbox/children.py) can also be killed from
another thread through the scope (a step abandoned at its run's hard time limit, see execution.engine).

Fail closed: where bubblewrap is missing or cannot create its namespaces, run_here raises
SandboxUnavailable and nothing runs, unless staff set SANDBOX_UNISOLATED=1 (a single-user
machine), in which case the child runs with the inner layers only and health and admin say so.
"""

import functools
import importlib.metadata
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
import sysconfig
import tempfile
import time
from pathlib import Path

from django.conf import settings

from agents.sandbox import unprivileged
from agents.sandbox.children import current_scope
from agents.sandbox.results import SandboxResult, SandboxStatus, SandboxUnavailable

logger = logging.getLogger(__name__)

RUNNER = Path(__file__).with_name("runner.py")
MAX_OUTPUT_CHARS = 64_000
MAX_TIMEOUT_SECONDS = 300.0
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_OPEN_FILES = 256
# The interpreter's own start-up, on top of the timeout the code is given.
STARTUP_ALLOWANCE_SECONDS = 1
# The libraries user code may import, bound into the sandbox with everything they depend on.
ALLOWED_DISTRIBUTIONS = ("numpy", "pandas", "scipy")
INSTALL_HINT = "install it with `apt-get install bubblewrap`"
UNISOLATED_HINT = "staff may set SANDBOX_UNISOLATED=1 on a single-user machine to run it without isolation"
# Paths inside the sandbox.
SCRATCH = "/scratch"
LIBRARIES = "/sandbox/site-packages"
RUNNER_INSIDE = "/sandbox/runner.py"
SCRATCH_BYTES = 4 * MAX_FILE_BYTES
NOBODY = str(unprivileged.NOBODY)
# How the complaints of the tools that set the sandbox up begin (bubblewrap, and a root worker's privilege drop).
SETUP_COMPLAINTS = ("bwrap:", *(f"{tool}:" for tool in unprivileged.TOOLS))
# Options of newer bubblewraps, used where present: Debian 12 ships 0.8, Ubuntu 22.04 0.6.
TMPFS_SIZE_SINCE = (0, 7)
DISABLE_USERNS_SINCE = (0, 8)


def _limit_resources(cpu_seconds: int, memory_bytes: int):
    def apply_limits() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
        resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_OPEN_FILES, MAX_OPEN_FILES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

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


def _requirement_name(requirement: str) -> str | None:
    """The distribution a requirement line names, or None for an optional extra's requirement."""
    name, _, marker = requirement.partition(";")
    if "extra" in marker:
        return None
    for separator in "<>=!~[ (":
        name = name.split(separator, 1)[0]
    return name.strip() or None


@functools.cache
def allowed_library_entries() -> tuple[Path, ...]:
    """Site-packages entries (packages, modules, .libs, .dist-info) of the allowed libraries and their dependencies."""
    entries: dict[str, Path] = {}
    pending, seen = list(ALLOWED_DISTRIBUTIONS), set()
    while pending:
        name = pending.pop()
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        root = Path(distribution.locate_file(""))
        for file in distribution.files or ():
            top = file.parts[0]
            if top != ".." and top != "__pycache__" and (root / top).exists():
                entries[top] = root / top
        pending.extend(filter(None, map(_requirement_name, distribution.requires or ())))
    return tuple(sorted(entries.values()))


def _interpreter() -> Path:
    """The base interpreter (not the venv's launcher, whose pyvenv.cfg points back at the project)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidate = Path(sys.base_prefix) / "bin" / version
    return candidate if candidate.exists() else Path(os.path.realpath(sys.executable))


def _interpreter_site_packages() -> list[str]:
    """The base interpreter's site-packages (and Debian's dist-packages) that exist, as the sandbox would see them."""
    base = {"base": sys.base_prefix, "platbase": sys.base_prefix}
    paths = {os.path.realpath(sysconfig.get_paths(vars=base)[key]) for key in ("purelib", "platlib")}
    version = f"python{sys.version_info.major}"
    paths.add(f"/usr/lib/{version}/dist-packages")
    return sorted(path for path in paths if os.path.isdir(path))


@functools.cache
def _bwrap_version(path: str) -> tuple[int, ...]:
    """(0, 8, 0) from `bwrap --version` ("bubblewrap 0.8.0"); () when it does not say."""
    try:
        answer = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    digits = answer.split()[-1].split(".") if answer.split() else []
    return tuple(int(part) for part in digits if part.isdigit())


def _bwrap_arguments(scratch_size: int) -> list[str]:
    bwrap = settings.SANDBOX_BWRAP_PATH
    arguments = [
        bwrap,
        "--unshare-all",  # pid, network, ipc, uts, cgroup namespaces
        "--unshare-user",  # --unshare-all only tries it
        *(["--disable-userns"] if _bwrap_version(bwrap) >= DISABLE_USERNS_SINCE else []),  # no nested namespaces
        "--uid", NOBODY,
        "--gid", NOBODY,
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--cap-drop", "ALL",
        "--ro-bind", "/usr", "/usr",
    ]  # fmt: skip
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            arguments += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            arguments += ["--ro-bind", str(path), str(path)]
    prefix = os.path.realpath(sys.base_prefix)
    if not prefix.startswith("/usr/") and prefix != "/usr":
        arguments += ["--ro-bind", prefix, prefix]
    for packages in _interpreter_site_packages():
        # The runtime's own installed packages (in an image: every dependency of the app) stay hidden.
        arguments += ["--tmpfs", packages, "--remount-ro", packages]
    for entry in allowed_library_entries():
        arguments += ["--ro-bind", str(entry), f"{LIBRARIES}/{entry.name}"]
    arguments += [
        "--ro-bind", str(RUNNER), RUNNER_INSIDE,
        "--proc", "/proc",
        "--dev", "/dev",
        *(["--size", str(scratch_size)] if _bwrap_version(bwrap) >= TMPFS_SIZE_SINCE else []),
        "--tmpfs", SCRATCH,
        "--chdir", SCRATCH,
        "--remount-ro", "/",
    ]  # fmt: skip
    for name, value in _sandbox_environment(SCRATCH).items():
        arguments += ["--setenv", name, value]
    return arguments


def _bwrap_reads(bwrap: str) -> list[Path]:
    """What bubblewrap opens on the host to build the sandbox (beyond the system directories)."""
    return [Path(bwrap), Path(os.path.realpath(sys.base_prefix)), _interpreter(), RUNNER, *allowed_library_entries()]


def _command(scratch: str) -> tuple[list[str], dict, str, list[str]]:
    """(argv, environment, the scratch dir as the child sees it, library dirs for its sys.path)."""
    if settings.SANDBOX_UNISOLATED:
        return [sys.executable, "-I", str(RUNNER)], _sandbox_environment(scratch), scratch, []
    bwrap = settings.SANDBOX_BWRAP_PATH
    if not (os.path.isfile(bwrap) and os.access(bwrap, os.X_OK)):
        raise SandboxUnavailable(
            f"sandbox: bubblewrap ({bwrap}) is not installed, so untrusted code cannot run isolated; "
            f"{INSTALL_HINT} (or point SANDBOX_BWRAP_PATH at it); {UNISOLATED_HINT}"
        )
    argv = [*_bwrap_arguments(SCRATCH_BYTES), "--", str(_interpreter()), "-I", RUNNER_INSIDE]
    if os.geteuid() == 0:
        if missing := unprivileged.missing_tools(_sandbox_environment(SCRATCH)["PATH"]):
            raise SandboxUnavailable(
                f"sandbox: this worker runs as root and must drop to nobody before it starts bubblewrap, "
                f"but {', '.join(missing)} is not installed; {unprivileged.TOOLS_HINT}; {UNISOLATED_HINT}"
            )
        stage = Path(scratch).parent / "stage"
        argv = unprivileged.as_nobody(argv, reads=_bwrap_reads(bwrap), stage=stage)
    return argv, _sandbox_environment(SCRATCH), SCRATCH, [LIBRARIES]


def _setup_failure(exit_code, stdout: bytes, stderr: bytes, nonce: str) -> str:
    """The complaint of the tool that could not build the sandbox (so the runner never ran), else ""."""
    if settings.SANDBOX_UNISOLATED or nonce.encode() in stdout or not exit_code:
        return ""
    first_line = stderr.decode("utf-8", errors="replace").strip().splitlines()[:1]
    return first_line[0] if first_line and first_line[0].startswith(SETUP_COMPLAINTS) else ""


def run_here(
    code: str, *, inputs: dict | None = None, timeout: float | None = None, memory_mb: int | None = None
) -> SandboxResult:
    """Run `code` in a sandbox this process starts; its `inputs` variable holds `inputs`, its `result` comes back.

    `timeout` (default settings.SANDBOX_TIMEOUT_SECONDS, at most 300 s) covers the whole child,
    imports included; memory is at most settings.SANDBOX_MEMORY_MB.

    Raises SandboxUnavailable when isolation cannot be set up (and unisolated mode is off);
    never raises for anything the code does: the SandboxResult says what happened.
    """
    timeout = min(float(timeout or settings.SANDBOX_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS)
    memory_mb = int(memory_mb or settings.SANDBOX_MEMORY_MB)
    memory_mb = min(memory_mb, int(settings.SANDBOX_MEMORY_MB))
    nonce = secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix="tw-sandbox-")
    scratch = os.path.join(workdir, "scratch")
    os.mkdir(scratch)
    started = time.monotonic()
    try:
        argv, environment, child_scratch, library_dirs = _command(scratch)
        request = {"code": code, "inputs": inputs or {}, "nonce": nonce, "scratch": child_scratch}
        request["libraries"] = library_dirs
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=scratch,
            env=environment,
            preexec_fn=_limit_resources(math.ceil(timeout) + STARTUP_ALLOWANCE_SECONDS, memory_mb * 1024 * 1024),
            close_fds=True,
            start_new_session=True,  # its own process group, killed as a whole
        )
        scope = current_scope()
        if scope is not None:
            scope.add(process, functools.partial(_kill_group, process))
        timed_out = False
        try:
            stdout, stderr = process.communicate(
                json.dumps(request, default=str).encode(), timeout=timeout + STARTUP_ALLOWANCE_SECONDS
            )
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            stdout, stderr = process.communicate()
        finally:
            if scope is not None:
                scope.discard(process)
        _kill_group(process)  # anything the code left behind in its group
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if failure := _setup_failure(process.returncode, stdout, stderr, nonce):
        logger.error("sandbox: bubblewrap could not set up the sandbox: %s", failure)
        raise SandboxUnavailable(
            f"sandbox: bubblewrap could not set up its namespaces ({failure.removeprefix('bwrap: ')}), "
            f"so untrusted code cannot run isolated; user namespaces must be allowed "
            f"(sysctl kernel.unprivileged_userns_clone=1, or a container allowed to create them); {UNISOLATED_HINT}"
        )
    duration_ms = int((time.monotonic() - started) * 1000)
    return _result_from(process.returncode, stdout, stderr, nonce, timed_out, timeout, duration_ms)


def status_here() -> SandboxStatus:
    """Runs an empty program in the sandbox here, the way a step would, and says whether it worked."""
    if settings.SANDBOX_UNISOLATED:
        return SandboxStatus(
            ok=False,
            isolated=False,
            mode="unisolated",
            message="UNISOLATED: SANDBOX_UNISOLATED=1, so custom code and agents' code run without "
            "operating-system isolation and can read this machine's files; only for a single-user machine",
        )
    try:
        outcome = run_here("result = 'ok'", timeout=10)
    except SandboxUnavailable as exc:
        return SandboxStatus(ok=False, isolated=False, mode="unavailable", message=str(exc))
    if not outcome.ok or outcome.result != "ok":
        return SandboxStatus(
            ok=False,
            isolated=True,
            mode="bubblewrap",
            message=f"sandbox: bubblewrap runs but the sandbox's Python fails: {outcome.error} {outcome.stderr[-500:]}",
        )
    message = f"isolated by bubblewrap ({settings.SANDBOX_BWRAP_PATH})"
    return SandboxStatus(ok=True, isolated=True, mode="bubblewrap", message=message)


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
    signal_number = _killed_by(exit_code) if not envelope else None
    if timed_out:
        error = f"sandbox: the code ran longer than {timeout:g} s and was stopped"
    elif signal_number is not None:
        known = signal_number in signal.Signals._value2member_map_
        killed_by = signal.Signals(signal_number).name if known else signal_number
        if killed_by == "SIGXCPU":
            error = f"sandbox: the code used more than its CPU time limit ({timeout:g} s) and was stopped"
        else:
            error = f"sandbox: the process was killed ({killed_by})"
    elif not envelope:
        error = f"sandbox: the process exited with code {exit_code} without a result"
    else:
        error = envelope.get("error", "")
    return SandboxResult(
        ok=not error,
        result=envelope.get("result"),
        stdout=user_output,
        stderr=err_text,
        error=error,
        timed_out=timed_out,
        exit_code=exit_code,
        duration_ms=duration_ms,
        traceback=envelope.get("traceback", ""),
        detail=envelope.get("detail", ""),
    )


def _killed_by(exit_code) -> int | None:
    """The signal that ended the child: negative from Popen, or 128 + signal from bubblewrap's init."""
    if exit_code is None:
        return None
    if exit_code < 0:
        return -exit_code
    if exit_code > 128 and not settings.SANDBOX_UNISOLATED:
        return exit_code - 128
    return None
