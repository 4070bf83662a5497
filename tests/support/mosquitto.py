"""A real mosquitto broker per test, on a free port, that a test can stop and start again."""

from __future__ import annotations

import shutil
from pathlib import Path

from .ports import free_port, wait_port
from .procs import Child

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)


class Broker:
    def __init__(
        self,
        workdir: Path,
        *,
        persistence: bool = False,
        port: int | None = None,
        extra_config: str = "",
    ) -> None:
        if MOSQUITTO is None:
            raise RuntimeError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        self.workdir = workdir
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.config = workdir / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true"]
        if persistence:
            lines += ["persistence true", f"persistence_location {workdir}/", "autosave_interval 1"]
        else:
            lines.append("persistence false")
        self.config.write_text("\n".join(lines) + "\n" + extra_config)
        self.child: Child | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        assert MOSQUITTO is not None
        self.child = Child([MOSQUITTO, "-c", str(self.config)], log=self.workdir / "mosquitto.log")
        wait_port(self.port, timeout_s=10)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None
