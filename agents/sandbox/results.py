"""What the sandbox answers, whichever way the code reached it (bubblewrap here, or the sandbox service)."""

from dataclasses import asdict, dataclass, field


class SandboxUnavailable(Exception):
    """Isolation cannot be set up here, so untrusted code does not run (the message says what to install)."""


class SandboxBusy(SandboxUnavailable):
    """The sandbox service has no sandbox free and no room to wait: the code did not run, later it may."""


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
    traceback: str = ""  # the user's own frames only: what their code did, no server paths
    detail: str = field(default="", repr=False)  # the full traceback, for the logs and staff only

    def as_dict(self) -> dict:
        """What the code's author may see (the agent, the trader): everything but `detail`."""
        data = asdict(self)
        del data["detail"]
        return data


@dataclass
class SandboxStatus:
    """What health and admin report: `isolated` is true only when bubblewrap works."""

    ok: bool
    isolated: bool
    mode: str  # "bubblewrap" | "unisolated" | "unavailable"
    message: str

    def as_dict(self) -> dict:
        return asdict(self)
