"""Runs untrusted user code inside the sandbox's child process.

Started by agents/sandbox/__init__.py as `python -I runner.py` (inside bubblewrap)
with resource limits already applied, an empty environment and a scratch directory as
cwd. It reads {"code", "inputs", "nonce", "scratch", "libraries"} as JSON on stdin
(`libraries`: directories holding the allowed libraries, put on sys.path), then,
before running the code:

- sets RLIMIT_NPROC to 0 (no new processes or threads for a non-root user; set here,
  since bubblewrap itself must still create the sandbox's processes);
- installs an audit hook (which Python code cannot remove) refusing sockets,
  new processes, ctypes, directory changes, any write outside the scratch dir, reading
  another process's /proc entries, and code compiled under a library's file name;
- replaces `__import__`, and puts a finder first on sys.meta_path (which also sees
  importlib.import_module), so imports made by any code that is not a library's or the
  standard library's own file (the user's code, code it compiles or execs) are limited to
  an allow-list (numpy, pandas, scipy and pure computing modules of the standard library);
  who imports is read from the calling frame's code, never from the globals passed in.

The user's prints go to stdout/stderr as they happen; at the end the runner
writes the nonce and a JSON envelope {"result", "error", "traceback", "detail"} to
stdout, where `result` is the user's `result` variable, `traceback` the frames of the
user's own code and `detail` the full traceback (for staff only).

This file must not import Django or the project: it runs in a bare interpreter.
"""

import builtins
import ctypes  # noqa: F401 - loaded before the audit hook forbids dlopen; numpy and scipy import it
import importlib
import json
import os
import resource
import sys
import sysconfig
import traceback

ALLOWED_IMPORTS = frozenset(
    {
        "numpy",
        "pandas",
        "scipy",
        "math",
        "cmath",
        "statistics",
        "json",
        "datetime",
        "decimal",
        "fractions",
        "random",
        "itertools",
        "functools",
        "collections",
        "re",
        "operator",
        "string",
        "typing",
        "dataclasses",
        "bisect",
        "heapq",
        "time",
    }
)
USER_MODULE = "__sandbox__"
USER_FILENAME = "<custom_code>"
BLOCKED_EVENT_PREFIXES = (
    "socket.",
    "subprocess.",
    "os.system",
    "os.exec",
    "os.fork",
    "os.forkpty",
    "os.posix_spawn",
    "os.spawn",
    "os.kill",
    "os.killpg",
    "os.chdir",
    "os.chroot",
    "os.startfile",
    "pty.",
    "ctypes.",
    "_posixsubprocess.",
    "webbrowser.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "poplib.",
    "imaplib.",
    "nntplib.",
    "telnetlib.",
)
# Events whose first argument is a path that may only be inside the scratch dir.
PATH_EVENTS = frozenset(
    {
        "os.remove",
        "os.rename",
        "os.mkdir",
        "os.rmdir",
        "os.symlink",
        "os.link",
        "os.chmod",
        "os.chown",
        "os.truncate",
        "os.utime",
        "os.chflags",
        "os.lchflags",
        "os.setxattr",
        "os.removexattr",
        "shutil.copyfile",
        "shutil.copytree",
        "shutil.move",
        "shutil.rmtree",
        "shutil.chown",
    }
)
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
IMPORT_MACHINERY = ("<frozen importlib", os.path.dirname(importlib.__file__) + os.sep, __file__)


class SandboxViolation(PermissionError):
    pass


def trusted_roots(library_dirs: list[str]) -> tuple[str, ...]:
    """Directories whose files are the standard library's or an allowed library's own code."""
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")} | set(library_dirs)
    return tuple(os.path.realpath(root) + os.sep for root in roots)


def is_trusted_file(filename: str, roots: tuple[str, ...]) -> bool:
    return filename.startswith("<frozen ") or (filename.startswith(os.sep) and filename.startswith(roots))


def is_import_machinery(filename: str) -> bool:
    """importlib's own frames and this runner's (the guard and the gate), which import on someone's behalf."""
    return filename.startswith(IMPORT_MACHINERY)


def install_audit_hook(scratch: str, roots: tuple[str, ...]) -> None:
    scratch_root = os.path.realpath(scratch)

    def inside_scratch(path) -> bool:
        if isinstance(path, int):
            return True  # an already-open descriptor
        try:
            resolved = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return resolved == scratch_root or resolved.startswith(scratch_root + os.sep)

    def another_process(path) -> bool:
        """/proc/<pid>/… of a process other than this one (its environment, memory, files)."""
        if isinstance(path, int):
            return False
        try:
            parts = os.path.realpath(os.fsdecode(path)).split(os.sep)
        except (TypeError, ValueError):
            return True
        return len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and parts[2] != str(os.getpid())

    def caller_is_untrusted() -> bool:
        frame = sys._getframe(2)  # 0: this function, 1: the hook, 2: the Python code that raised the event
        return frame is not None and not is_trusted_file(frame.f_code.co_filename, roots)

    def hook(event: str, args: tuple) -> None:
        if event.startswith(BLOCKED_EVENT_PREFIXES):
            raise SandboxViolation(f"sandbox: {event} is not allowed")
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, 0))[:3]
            writes = bool(flags & WRITE_FLAGS) if isinstance(flags, int) else False
            if isinstance(mode, str) and any(ch in mode for ch in "wax+"):
                writes = True
            if writes and path is not None and not inside_scratch(path):
                raise SandboxViolation(f"sandbox: writing outside the scratch directory is not allowed ({path})")
            if path is not None and another_process(path):
                raise SandboxViolation(f"sandbox: reading another process's files is not allowed ({path})")
        elif event in PATH_EVENTS:
            paths = [arg for arg in args[:2] if isinstance(arg, str | bytes | os.PathLike)]
            for path in paths:
                if not inside_scratch(path):
                    raise SandboxViolation(f"sandbox: {event} outside the scratch directory is not allowed ({path})")
        elif (
            event == "compile"
            and isinstance(args[1], str)
            and (is_trusted_file(args[1], roots) or is_import_machinery(args[1]))
        ):
            # Code that claims to be a library's file would pass the import guard: only the import system may.
            if caller_is_untrusted():
                raise SandboxViolation(f"sandbox: compiling code as {args[1]!r} is not allowed")
        elif event == "code.__new__" and caller_is_untrusted():
            raise SandboxViolation("sandbox: building code objects is not allowed")

    sys.addaudithook(hook)


def refuse_import(name: str) -> ImportError:
    return ImportError(f"sandbox: import of {name!r} is not allowed; allowed: {', '.join(sorted(ALLOWED_IMPORTS))}")


class ImportGate:
    """A meta path finder, asked first for every module not loaded yet, however the import was started.

    `importlib.import_module` and `importlib._bootstrap._gcd_import` never call `__import__`; this
    gate still sees them. The importer is the nearest frame outside the import machinery.
    """

    def __init__(self, roots: tuple[str, ...]):
        self.roots = roots

    def find_spec(self, name, path=None, target=None):
        frame = sys._getframe(1)
        while frame is not None and is_import_machinery(frame.f_code.co_filename):
            frame = frame.f_back
        if frame is not None and not is_trusted_file(frame.f_code.co_filename, self.roots):
            if name.partition(".")[0] not in ALLOWED_IMPORTS:
                raise refuse_import(name)
        return None  # the usual finders load it


def install_import_guard(roots: tuple[str, ...]) -> None:
    original_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        # Who imports is the frame that executed the import (an `import` statement or a call of
        # __import__), not the `globals` argument, which a caller may fill with anything. Libraries
        # and the standard library import what they need; everything else gets the allow-list.
        importer = sys._getframe(1).f_code.co_filename
        if not is_trusted_file(importer, roots):
            if level != 0 or name.partition(".")[0] not in ALLOWED_IMPORTS:
                raise refuse_import(name)
        return original_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import
    sys.meta_path.insert(0, ImportGate(roots))  # modules not loaded yet, imported by any route


def users_traceback(exc: BaseException) -> str:
    """The frames of the user's own code and the error: line numbers to fix, no server paths."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == USER_FILENAME]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    return "".join(lines + traceback.format_exception_only(type(exc), exc))


def main() -> None:
    request = json.loads(sys.stdin.read())
    sys.stdin.close()
    nonce = request["nonce"]
    real_stdout = sys.stdout
    library_dirs = request.get("libraries") or []
    sys.path[:0] = library_dirs
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    roots = trusted_roots(library_dirs)
    install_audit_hook(request["scratch"], roots)
    install_import_guard(roots)
    namespace = {"__name__": USER_MODULE, "__builtins__": builtins, "inputs": request.get("inputs") or {}}
    envelope = {"result": None, "error": ""}
    try:
        exec(compile(request["code"], USER_FILENAME, "exec"), namespace)  # noqa: S102 - the sandbox's purpose
        result = namespace.get("result")
        envelope["result"] = json.loads(json.dumps(result, default=str))
    except BaseException as exc:  # noqa: BLE001 - report everything the user's code raised, including SystemExit
        envelope["error"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        envelope["traceback"] = users_traceback(exc)
        envelope["detail"] = traceback.format_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    real_stdout.write("\n" + nonce + json.dumps(envelope))
    real_stdout.flush()


if __name__ == "__main__":
    main()
