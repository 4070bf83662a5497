"""A real mosquitto broker per test, on a free port, that a test can stop and start again."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .ports import free_port, wait_port
from .procs import Child

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or (
    "/usr/bin/mosquitto_passwd" if Path("/usr/bin/mosquitto_passwd").exists() else None
)


@dataclass(frozen=True)
class TlsListener:
    """A second, TLS-only listener: the broker's certificate, key and the CA that signed it."""

    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = False
    port: int = 0  # 0: a free port

    def config(self, port: int) -> str:
        lines = [
            f"listener {port} 127.0.0.1",
            f"cafile {self.cafile}",
            f"certfile {self.certfile}",
            f"keyfile {self.keyfile}",
            "tls_version tlsv1.2",
            f"require_certificate {'true' if self.require_certificate else 'false'}",
        ]
        return "\n".join(lines) + "\n"


def write_password_file(path: Path, users: dict[str, str]) -> Path:
    """A mosquitto password file for ``users`` (hashed by ``mosquitto_passwd``)."""
    if MOSQUITTO_PASSWD is None:
        raise RuntimeError("mosquitto_passwd is not installed (Debian package: mosquitto)")
    path.write_text("")
    for user, password in users.items():
        subprocess.run(
            [MOSQUITTO_PASSWD, "-b", str(path), user, password],
            check=True,
            capture_output=True,
            timeout=30,
        )
    return path


class Broker:
    def __init__(
        self,
        workdir: Path,
        *,
        persistence: bool = False,
        port: int | None = None,
        extra_config: str = "",
        tls: TlsListener | None = None,
        password_file: Path | None = None,
    ) -> None:
        if MOSQUITTO is None:
            raise RuntimeError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        self.workdir = workdir
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.config = workdir / "mosquitto.conf"
        self.tls_port = (tls.port or free_port()) if tls is not None else None
        lines = [f"listener {self.port} 127.0.0.1"]
        if password_file is not None:
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        if persistence:
            lines += ["persistence true", f"persistence_location {workdir}/", "autosave_interval 1"]
        else:
            lines.append("persistence false")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # Started as root, mosquitto drops to user "mosquitto", which can neither write its
            # store into nor read certificates and password files from a root-owned tmp dir.
            lines.append("user root")
        if tls is not None and self.tls_port is not None:
            extra_config = tls.config(self.tls_port) + extra_config
        self.config.write_text("\n".join(lines) + "\n" + extra_config)
        self.child: Child | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def tls_url(self) -> str:
        if self.tls_port is None:
            raise RuntimeError("this broker has no TLS listener")
        return f"mqtts://{self.host}:{self.tls_port}"

    def start(self) -> None:
        assert MOSQUITTO is not None
        self.child = Child([MOSQUITTO, "-c", str(self.config)], log=self.workdir / "mosquitto.log")
        wait_port(self.port, timeout_s=10)
        if self.tls_port is not None:
            wait_port(self.tls_port, timeout_s=10)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None
