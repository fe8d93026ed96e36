"""A real Mosquitto broker for tests: `/usr/sbin/mosquitto` on a free port of 127.0.0.1.

Persistence is on (in the broker's own directory) and saved on SIGTERM, so `restart()` keeps
persistent sessions, their subscriptions and their queued QoS 1 messages, as a production broker does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.postgres import free_port
from tests.support.process import listening, stop, wait_ready

MOSQUITTO = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = os.environ.get("MOSQUITTO_PASSWD", "/usr/bin/mosquitto_passwd")


def mosquitto_available() -> bool:
    return Path(MOSQUITTO).exists() or shutil.which(MOSQUITTO) is not None


@dataclass
class MosquittoBroker:
    port: int
    workdir: Path
    # username -> password; set: anonymous clients are refused
    users: dict[str, str] = field(default_factory=dict)
    # TLS on the listener with a certificate for 127.0.0.1 signed by a throwaway CA (ca_file)
    tls: bool = False
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "tls" / "ca.crt"

    def _make_certificates(self) -> list[str]:
        """A CA and a server certificate for 127.0.0.1 (openssl CLI); the listener's TLS lines."""
        d = self.workdir / "tls"
        d.mkdir(exist_ok=True)

        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

        if not (d / "server.crt").exists():
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=gridos-test-ca",
                    "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-keyout", "server.key", "-out", "server.csr")  # fmt: skip
            (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
            openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                    "-days", "2", "-extfile", "san.ext", "-out", "server.crt")  # fmt: skip
        return [f"cafile {d / 'ca.crt'}", f"certfile {d / 'server.crt'}", f"keyfile {d / 'server.key'}"]

    def write_config(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        auth = ["allow_anonymous true"]
        if self.users:
            passwords = self.workdir / "passwords"
            passwords.write_text("")
            for user, password in self.users.items():
                subprocess.run(
                    [MOSQUITTO_PASSWD, "-b", str(passwords), user, password], check=True, capture_output=True
                )
            passwords.chmod(0o600)
            auth = ["allow_anonymous false", f"password_file {passwords}"]
        conf.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    *(self._make_certificates() if self.tls else []),
                    *auth,
                    "persistence true",
                    f"persistence_location {data}/",
                    # SIGTERM always saves; the periodic save bounds what a SIGKILL loses.
                    "autosave_interval 30",
                    # No silent drops of queued messages for offline persistent sessions.
                    "max_queued_messages 0",
                    "max_inflight_messages 0",
                    "persistent_client_expiration 1h",
                    # Started as root, mosquitto drops to the `mosquitto` user and then cannot write the
                    # persistence file in our directory: stay the user that owns it.
                    *(["user root"] if os.geteuid() == 0 else []),
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "",
                ]
            )
        )
        return conf

    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        conf = self.write_config()
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        ready = listening(self.host, self.port)
        wait_ready(self.proc, ready, f"mosquitto on {self.address}", self.log_path, timeout, interval=0.05)
        return self

    def stop(self) -> None:
        """SIGTERM: the broker saves its persistence database and exits."""
        if self.proc:
            stop(self.proc)

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        if down_seconds:
            time.sleep(down_seconds)
        self.start()


@contextmanager
def running_mosquitto(
    workdir: Path, users: dict[str, str] | None = None, tls: bool = False
) -> Iterator[MosquittoBroker]:
    workdir.mkdir(parents=True, exist_ok=True)
    broker = MosquittoBroker(port=free_port(), workdir=workdir, users=users or {}, tls=tls).start()
    try:
        yield broker
    finally:
        broker.stop()
