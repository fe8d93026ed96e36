"""OPC UA server: GridOS's devices and active alarms as an address space other systems can read.

    Objects/GridOS/
      Sites/<site>/<device id>/<measurement>   Double or Boolean; value, quality (Good / Uncertain / Bad)
                                               and source timestamp of the latest sample; properties
                                               EngineeringUnits (EUInformation, UNECE code) and EURange
                                               (from the catalogue and the device's ratings, when known)
      Alarms/ActiveCount, UnacknowledgedCount  UInt32
      Alarms/Active                            String[]: "priority|device|measurement|condition|state|message"

Node ids are stable strings in the GridOS namespace (urn:gridos): s=devices/<device id>/<measurement>,
s=alarms/ActiveCount, ... so an HMI can bind to them directly. Every publish_interval_seconds the server
reads the latest samples and the active alarms from the database (the single source of truth, whichever
replica ingested them), adds nodes for new devices and measurements, and writes what changed; clients
see it through ordinary subscriptions.

Security: only Basic256Sha256 (Sign, SignAndEncrypt) endpoints. The server certificate comes from
GRIDOS_OPCUA_CERT_FILE/KEY_FILE or is generated into GRIDOS_OPCUA_PKI_DIR at first start. Sessions
authenticate with a user name and, as password, a GridOS API token of a role that may read (viewer,
operator, admin); anonymous sessions are refused unless GRIDOS_OPCUA_ALLOW_ANONYMOUS=true. Client
application certificates must be valid now and match the client's application URI; with
GRIDOS_OPCUA_TRUSTED_CLIENTS_DIR only the certificates in that folder are accepted.

Alarms are variables, not OPC UA Alarms & Conditions: asyncua fires condition events and answers
ConditionRefresh, but has no condition instances with Acknowledge/Confirm methods and their state
machine, so an A&C client could not operate GridOS alarms through it (docs/ingest.md).
"""

import asyncio
import hmac
import logging
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.user_managers import UserManager
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy import select

from gridos.config import Role, hash_token
from gridos.db.tables import latest_samples
from gridos.ingest.config import ConnectorConfigError, OpcUaSettings
from gridos.telemetry.catalogue import Measurement
from gridos.telemetry.samples import Quality

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine

    from gridos.alarms.service import AlarmService
    from gridos.devices.service import DeviceRegistry
    from gridos.telemetry.service import TelemetryService

log = logging.getLogger("gridos.ingest.opcua")
NAMESPACE = "urn:gridos"
APP_URI = "urn:gridos:opcua-server"
READ_ROLES = frozenset({Role.viewer, Role.operator, Role.admin})
# UNECE Recommendation 20 codes of the catalogue's units (OPC UA Part 8 EUInformation.UnitId).
UNECE = {"V": "VLT", "A": "AMP", "kW": "KWT", "kvar": "KVR", "Hz": "HTZ", "degC": "CEL"}
STATUS = {
    Quality.good.value: ua.StatusCodes.Good,
    Quality.questionable.value: ua.StatusCodes.Uncertain,
    Quality.invalid.value: ua.StatusCodes.Bad,
}


# asyncua annotates these constructors with its NewType aliases (Int16, UInt32, DateTime, ...): plain ints,
# strings and datetimes are what it takes at run time.
def _node_id(identifier: Any, namespace: Any = 0) -> ua.NodeId:
    return ua.NodeId(identifier, namespace)


def _data_value(value: ua.Variant, status: Any = ua.StatusCodes.Good, **timestamps: Any) -> ua.DataValue:
    return ua.DataValue(value, StatusCode=ua.StatusCode(status), **timestamps)


def unit_id(code: str) -> int:
    """UNECE code -> EUInformation.UnitId: the code's ASCII bytes as one integer ("VLT" -> 0x564C54)."""
    return int.from_bytes(code.encode("ascii"), "big")


def eu_information(unit: str) -> ua.EUInformation:
    code = UNECE.get(unit)
    return ua.EUInformation(
        NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
        UnitId=unit_id(code) if code else -1,
        DisplayName=ua.LocalizedText(unit),
        Description=ua.LocalizedText(unit),
    )


def eu_range(m: Measurement, device: Any) -> tuple[float, float] | None:
    """The measurement's expected range: physical bounds from the catalogue, the rest from the device's
    ratings (1.5 x nominal voltage, rated current, +/- rated power, nominal frequency +/- 10 %)."""
    lo, hi = m.minimum, m.maximum
    if m.name == "voltage" and device.nominal_voltage:
        hi = 1.5 * device.nominal_voltage
    elif m.name == "current" and device.rated_current:
        hi = 1.5 * device.rated_current
    elif m.name in ("active_power", "reactive_power") and device.rated_power:
        lo, hi = -1.5 * device.rated_power, 1.5 * device.rated_power
    elif m.name == "frequency" and device.nominal_frequency:
        lo, hi = 0.9 * device.nominal_frequency, 1.1 * device.nominal_frequency
    if lo is None or hi is None:
        return None
    return float(lo), float(hi)


class TokenUserManager(UserManager):
    """User name: anything (it names the session); password: a GridOS API token that may read."""

    def __init__(self, token_roles: dict[str, Role], allow_anonymous: bool) -> None:
        self.token_roles = token_roles
        self.allow_anonymous = allow_anonymous

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if username is None and password is None and certificate is None:
            return User(role=UserRole.User, name="anonymous") if self.allow_anonymous else None
        if not password:
            return None
        digest = hash_token(password)
        for known, role in self.token_roles.items():
            if hmac.compare_digest(known, digest) and role in READ_ROLES:
                return User(role=UserRole.User, name=username or role.value)
        log.warning("opcua session refused: unknown token", extra={"user": (username or "")[:64]})
        return None


def load_trusted(directory: Path) -> set[bytes]:
    """SHA-256 fingerprints of the certificates (DER or PEM, one per file) in `directory`."""
    if not directory.is_dir():
        raise ConnectorConfigError(f"GRIDOS_OPCUA_TRUSTED_CLIENTS_DIR: {directory} is not a directory")
    found: set[bytes] = set()
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        data = path.read_bytes()
        try:
            cert = (
                x509.load_pem_x509_certificate(data)
                if b"-----BEGIN" in data
                else x509.load_der_x509_certificate(data)
            )
        except ValueError:
            raise ConnectorConfigError(
                f"GRIDOS_OPCUA_TRUSTED_CLIENTS_DIR: {path} is not a certificate"
            ) from None
        found.add(cert.fingerprint(hashes.SHA256()))
    return found


class TrustedClients:
    """Certificate validation: valid now, application URI matching the certificate, and (when a trust
    folder is configured) one of the trusted client application certificates, exactly."""

    def __init__(self, trusted: set[bytes] | None) -> None:
        self.trusted = trusted
        self.basic = CertificateValidator(
            CertificateValidatorOptions.BASIC_VALIDATION | CertificateValidatorOptions.PEER_CLIENT
        )

    async def __call__(self, cert: x509.Certificate, app_description: ua.ApplicationDescription) -> None:
        await self.basic.validate(cert, app_description)
        if self.trusted is not None and cert.fingerprint(hashes.SHA256()) not in self.trusted:
            log.warning(
                "opcua client certificate refused: not trusted",
                extra={"subject": cert.subject.rfc4514_string()[:200]},
            )
            raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)


@dataclass(frozen=True)
class OpcUaSources:
    """What the server reads; not the services container, since gridos.services names OpcUaServer."""

    token_roles: dict[str, Any]
    engine: "Engine"
    registry: "DeviceRegistry"
    telemetry: "TelemetryService"
    alarms: "Callable[[], AlarmService | None]"


class OpcUaServer:
    def __init__(self, settings: OpcUaSettings, sources: OpcUaSources) -> None:
        self.settings = settings
        self.sources = sources
        self.url = f"opc.tcp://{settings.host}:{settings.port}/gridos/"
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._server: Server | None = None
        self._idx = 0
        self._nodes: dict[str, Any] = {}  # string node id -> node
        self._written: dict[tuple[str, str], tuple[int, int]] = {}  # series -> (ts, quality) last written
        self.refreshes = 0
        self.variables = 0
        self.last_refresh_at: datetime | None = None
        self.last_error: str | None = None
        self.cert_file, self.key_file = self._certificate_paths()
        trusted = load_trusted(settings.trusted_clients_dir) if settings.trusted_clients_dir else None
        self.validator = TrustedClients(trusted)

    def _certificate_paths(self) -> tuple[Path, Path]:
        s = self.settings
        if s.cert_file is not None and s.key_file is not None:
            for path in (s.cert_file, s.key_file):
                if not path.is_file():
                    raise ConnectorConfigError(f"GRIDOS_OPCUA_CERT_FILE/KEY_FILE: {path} does not exist")
            return s.cert_file, s.key_file
        return s.pki_dir / "server-cert.der", s.pki_dir / "server-key.pem"

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        self._thread = threading.Thread(target=self._serve, name="opcua-server", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout) or self._error is not None:
            raise RuntimeError(f"OPC UA server did not start on {self.url}: {self._error}")
        log.info("opcua server started", extra={"url": self.url})

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(15)

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        s = self.settings
        s.pki_dir.mkdir(parents=True, exist_ok=True)
        if s.cert_file is None:
            await setup_self_signed_certificate(
                self.key_file,
                self.cert_file,
                APP_URI,
                socket.gethostname(),
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
                {"countryName": "CH", "organizationName": "GridOS", "commonName": "GridOS OPC UA server"},
            )
        users = TokenUserManager(self.sources.token_roles, s.allow_anonymous)
        server = Server(user_manager=users)
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("GridOS")
        await server.set_application_uri(APP_URI)
        server.set_security_policy(
            [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt, ua.SecurityPolicyType.Basic256Sha256_Sign]
        )
        tokens: list[type] = [ua.UserNameIdentityToken]
        if s.allow_anonymous:
            tokens.append(ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        server.set_certificate_validator(self.validator)
        await server.load_certificate(str(self.cert_file))
        await server.load_private_key(str(self.key_file))
        self._idx = await server.register_namespace(NAMESPACE)
        await self._build_static(server)
        self._server = server
        async with server:
            await self._refresh_safely()
            self._started.set()
            while not self._stopping.is_set():
                try:
                    await asyncio.wait_for(self._stopping.wait(), s.publish_interval_seconds)
                except TimeoutError:
                    await self._refresh_safely()

    # -- address space --------------------------------------------------------------------------
    def _nid(self, name: str) -> ua.NodeId:
        return _node_id(name, self._idx)

    async def _build_static(self, server: Server) -> None:
        root = await server.nodes.objects.add_folder(self._nid("GridOS"), f"{self._idx}:GridOS")
        self._nodes["sites"] = await root.add_folder(self._nid("sites"), f"{self._idx}:Sites")
        alarms = await root.add_folder(self._nid("alarms"), f"{self._idx}:Alarms")
        for name, value, vtype in (
            ("ActiveCount", 0, ua.VariantType.UInt32),
            ("UnacknowledgedCount", 0, ua.VariantType.UInt32),
            ("Active", [], ua.VariantType.String),
        ):
            self._nodes[f"alarms/{name}"] = await alarms.add_variable(
                self._nid(f"alarms/{name}"), f"{self._idx}:{name}", value, varianttype=vtype
            )

    async def _site(self, site: str) -> Any:
        key = f"sites/{site}"
        if key not in self._nodes:
            self._nodes[key] = await self._nodes["sites"].add_folder(self._nid(key), f"{self._idx}:{site}")
        return self._nodes[key]

    async def _device(self, device: Any) -> Any:
        key = f"devices/{device.id}"
        if key not in self._nodes:
            site = await self._site(device.site)
            node = await site.add_object(self._nid(key), f"{self._idx}:{device.id}")
            await node.write_attribute(
                ua.AttributeIds.DisplayName,
                ua.DataValue(ua.Variant(ua.LocalizedText(device.name or device.id))),
            )
            self._nodes[key] = node
        return self._nodes[key]

    async def _variable(self, device: Any, m: Measurement) -> Any:
        key = f"devices/{device.id}/{m.name}"
        if key not in self._nodes:
            parent = await self._device(device)
            boolean = m.kind == "bool"
            node = await parent.add_variable(
                self._nid(key),
                f"{self._idx}:{m.name}",
                False if boolean else 0.0,
                varianttype=ua.VariantType.Boolean if boolean else ua.VariantType.Double,
            )
            if not boolean:
                await node.add_property(
                    self._nid(f"{key}/EngineeringUnits"),
                    "0:EngineeringUnits",
                    eu_information(m.unit),
                    datatype=_node_id(ua.ObjectIds.EUInformation),
                )
                bounds = eu_range(m, device)
                if bounds is not None:
                    await node.add_property(
                        self._nid(f"{key}/EURange"),
                        "0:EURange",
                        ua.Range(Low=bounds[0], High=bounds[1]),
                        datatype=_node_id(ua.ObjectIds.Range),
                    )
            self._nodes[key] = node
            self.variables += 1
        return self._nodes[key]

    # -- live values ----------------------------------------------------------------------------
    async def _refresh_safely(self) -> None:
        try:
            await self._refresh()
            self.last_error = None
        except Exception as exc:  # database unavailable: values stay as they were, next round retries
            self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            log.warning("opcua refresh failed", extra={"error": self.last_error})

    async def _refresh(self) -> None:
        server = self._server
        assert server is not None
        devices, latest, active = await asyncio.to_thread(self._read)
        catalogue: dict[str, Measurement] = self.sources.telemetry.catalogue
        now = datetime.now(UTC)
        for device_id, measurement, ts, value, quality in latest:
            device = devices.get(device_id)
            m = catalogue.get(measurement)
            if device is None or m is None or self._written.get((device_id, measurement)) == (ts, quality):
                continue
            node = await self._variable(device, m)
            variant = (
                ua.Variant(bool(value), ua.VariantType.Boolean)
                if m.kind == "bool"
                else ua.Variant(float(value), ua.VariantType.Double)
            )
            await server.write_attribute_value(
                node.nodeid,
                _data_value(
                    variant,
                    STATUS.get(quality, ua.StatusCodes.Bad),
                    SourceTimestamp=datetime.fromtimestamp(ts / 1e6, UTC),
                    ServerTimestamp=now,
                ),
            )
            self._written[(device_id, measurement)] = (ts, quality)
        if active is not None:
            lines = [
                "|".join(
                    str(a.get(k) or "")
                    for k in ("priority", "device_id", "measurement", "condition", "state", "message")
                )
                for a in active
            ]
            unacked = sum(1 for a in active if not a.get("acknowledged"))
            for name, value, vtype in (
                ("ActiveCount", len(active), ua.VariantType.UInt32),
                ("UnacknowledgedCount", unacked, ua.VariantType.UInt32),
                ("Active", lines, ua.VariantType.String),
            ):
                await server.write_attribute_value(
                    self._nodes[f"alarms/{name}"].nodeid,
                    _data_value(ua.Variant(value, vtype), ServerTimestamp=now),
                )
        self.refreshes += 1
        self.last_refresh_at = now

    def _read(self) -> tuple[dict[str, Any], list[Any], list[dict[str, Any]] | None]:
        """Blocking database reads (run in a worker thread): devices, latest samples, active alarms."""
        devices, _ = self.sources.registry.list(limit=100_000)
        with self.sources.engine.connect() as conn:
            latest = conn.execute(
                select(
                    latest_samples.c.device_id,
                    latest_samples.c.measurement,
                    latest_samples.c.ts,
                    latest_samples.c.value,
                    latest_samples.c.quality,
                )
            ).all()
        alarms = self.sources.alarms()
        active = None
        if alarms is not None:
            active = alarms.list_active(None, None, None, None, limit=1000, offset=0)["items"]
        return {d.id: d for d in devices}, list(latest), active

    # -- operations -----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Reported, never failing readiness: the HTTP API works without the OPC UA view."""
        running = self._thread is not None and self._thread.is_alive() and self._started.is_set()
        return {
            "status": "healthy" if running else "stopped",
            "endpoint": self.url,
            "security": "Basic256Sha256 (Sign, SignAndEncrypt)",
            "anonymous": self.settings.allow_anonymous,
            "trusted_clients": None if self.validator.trusted is None else len(self.validator.trusted),
            "variables": self.variables,
            "last_refresh_at": self.last_refresh_at.isoformat() if self.last_refresh_at else None,
            "last_error": self.last_error,
        }
