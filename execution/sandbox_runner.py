"""Runs untrusted user code inside the sandbox's child process.

Started by execution/sandbox.py as `python -I sandbox_runner.py` with resource
limits already applied, an empty environment and a scratch directory as cwd.
It reads {"code", "inputs", "nonce", "scratch"} as JSON on stdin, then, before
running the code:

- installs an audit hook (which Python code cannot remove) refusing sockets,
  new processes, ctypes, directory changes and any write outside the scratch dir;
- replaces `__import__` so the user's own imports are limited to an allow-list
  (numpy, pandas, scipy and pure computing modules of the standard library);
  the libraries' internal imports are not restricted.

The user's prints go to stdout/stderr as they happen; at the end the runner
writes the nonce and a JSON envelope {"result", "error"} to stdout, where
`result` is the user's `result` variable.

This file must not import Django or the project: it runs in a bare interpreter.
"""

import builtins
import ctypes  # noqa: F401 - loaded before the audit hook forbids dlopen; numpy and scipy import it
import json
import os
import sys
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


class SandboxViolation(PermissionError):
    pass


def install_audit_hook(scratch: str) -> None:
    scratch_root = os.path.realpath(scratch)

    def inside_scratch(path) -> bool:
        if isinstance(path, int):
            return True  # an already-open descriptor
        try:
            resolved = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return resolved == scratch_root or resolved.startswith(scratch_root + os.sep)

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
        elif event in PATH_EVENTS:
            paths = [arg for arg in args[:2] if isinstance(arg, str | bytes | os.PathLike)]
            for path in paths:
                if not inside_scratch(path):
                    raise SandboxViolation(f"sandbox: {event} outside the scratch directory is not allowed ({path})")

    sys.addaudithook(hook)


def install_import_guard() -> None:
    original_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        # The interpreter passes the importing module's globals. Libraries (pandas) also call
        # __import__(name) bare, so only imports from the user's module are checked; the guard is
        # a convenience, the audit hook is what refuses harm.
        importer = (globals or {}).get("__name__")
        if importer == USER_MODULE:
            top_level = name.partition(".")[0]
            if level != 0 or top_level not in ALLOWED_IMPORTS:
                raise ImportError(
                    f"sandbox: import of {name!r} is not allowed; allowed: {', '.join(sorted(ALLOWED_IMPORTS))}"
                )
        return original_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import


def main() -> None:
    request = json.loads(sys.stdin.read())
    sys.stdin.close()
    nonce = request["nonce"]
    real_stdout = sys.stdout
    install_audit_hook(request["scratch"])
    install_import_guard()
    namespace = {"__name__": USER_MODULE, "__builtins__": builtins, "inputs": request.get("inputs") or {}}
    envelope = {"result": None, "error": ""}
    try:
        exec(compile(request["code"], "<custom_code>", "exec"), namespace)  # noqa: S102 - the sandbox's purpose
        result = namespace.get("result")
        envelope["result"] = json.loads(json.dumps(result, default=str))
    except BaseException as exc:  # noqa: BLE001 - report everything the user's code raised, including SystemExit
        envelope["error"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        envelope["traceback"] = traceback.format_exc(limit=5)
    sys.stdout.flush()
    sys.stderr.flush()
    real_stdout.write("\n" + nonce + json.dumps(envelope))
    real_stdout.flush()


if __name__ == "__main__":
    main()
