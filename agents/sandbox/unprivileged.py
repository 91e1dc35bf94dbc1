"""Starting the sandbox as nobody from a root process, with the runtime still readable to nobody.

bubblewrap started by root maps the sandbox's user to root outside: the child would be root on
the host, held back only by its namespaces. So a root worker drops to nobody before it starts
bubblewrap, and bubblewrap's user namespace maps nobody to nobody.

nobody must be able to reach what bubblewrap binds into the sandbox (the interpreter, the allowed
libraries, the runner). Where a directory on the way cannot be entered by other users (pyenv's
Python under /root, mode 0700), the command first unshares a private mount namespace, as root,
in which each such directory becomes an empty, enterable tmpfs holding only the entries on the way
to the runtime, bound from the real ones. Nothing changes outside that namespace, the files keep their
own permissions, and the sandbox itself still sees only what bubblewrap binds.
"""

import shlex
import shutil
import stat
from pathlib import Path

NOBODY = 65534
TOOLS = ("unshare", "setpriv", "mount")  # util-linux, and mount
TOOLS_HINT = "install util-linux and mount (`apt-get install util-linux mount`)"


def closed_ancestors(path: Path) -> list[Path]:
    """The directories above `path` that other users cannot enter, highest first."""
    return [parent for parent in reversed(path.parents) if not parent.stat().st_mode & stat.S_IXOTH]


def opening_script(paths: list[Path], stage: Path) -> list[str]:
    """Shell lines that make every closed directory on the way to `paths` enterable in this mount namespace.

    `stage` is an empty directory root can write to, where the real entries wait while their
    closed parent is covered by the tmpfs.
    """
    lines = [f"mkdir -p {shlex.quote(str(stage))}"]
    openings: dict[Path, set[str]] = {}
    for path in paths:
        for closed in closed_ancestors(path):
            openings.setdefault(closed, set()).add(path.relative_to(closed).parts[0])
    # Sorted, a directory comes before those inside it, which are opened through its tmpfs.
    for number, (closed, children) in enumerate(sorted(openings.items())):
        held = {child: shlex.quote(str(stage / f"{number}-{child}")) for child in children}
        entries = {child: shlex.quote(str(closed / child)) for child in children}
        made = {child: "mkdir -p" if (closed / child).is_dir() else "touch" for child in children}  # a bind's target
        for child in sorted(children):
            lines += [f"{made[child]} {held[child]}", f"mount --bind {entries[child]} {held[child]}"]
        lines.append(f"mount -t tmpfs -o mode=0755 tmpfs {shlex.quote(str(closed))}")
        for child in sorted(children):
            lines += [f"{made[child]} {entries[child]}", f"mount --move {held[child]} {entries[child]}"]
    return lines


def missing_tools(path: str) -> list[str]:
    """The tools `as_nobody` needs that are not on `path` (the PATH the command is started with)."""
    return [tool for tool in TOOLS if shutil.which(tool, path=path) is None]


def as_nobody(argv: list[str], *, reads: list[Path], stage: Path) -> list[str]:
    """`argv`, run as nobody (no groups) by root, with every path in `reads` reachable to nobody.

    The wrapper's own failures start with the tool's name (`unshare: …`, `mount: …`, `setpriv: …`).
    """
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *argv]
    script = "\n".join(["set -e", *opening_script(reads, stage), "exec " + shlex.join(drop)])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
