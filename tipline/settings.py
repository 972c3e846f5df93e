"""One Settings object, read from the environment, shared by the server and every command.

Secrets that are not set are generated once and kept in the instance folder (mode 0600), so
`make run` needs no account anywhere; a value that is set but unfit is refused at start.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIN_SECRET_LENGTH = 32


class SettingsError(Exception):
    """A setting is missing or unfit; the message names it and says what would fit."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    pseudonym_key: str
    contact_key: str
    instance_path: Path
    flows_path: Path = PROJECT_ROOT / "flows"
    public_url: str | None = None
    trusted_proxies: int = 0
    service_name: str | None = None
    twilio_auth_token: str | None = None
    twilio_account_sid: str | None = None
    twilio_sms_from: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_base_url: str | None = None
    log_level: str = "INFO"
    extra: dict = field(default_factory=dict)
    # Partners, outbox and retention (issue 4).
    oncall_number: str | None = None
    escalation_timeout_minutes: int = 15
    send_rate_per_second: float = 1.0
    outbox_max_attempts: int = 8
    twilio_whatsapp_content_sid: str | None = None
    contact_retention_days: int = 30
    conversation_retention_days: int = 30
    closed_tip_text_retention_days: int = 365
    outbox_retention_days: int = 30
    resume_hours: int = 24  # an interrupted report is offered back this long (0: never)
    # The SMS Gateway for Android channel (issue 14).
    smsgate_url: str | None = None
    smsgate_username: str | None = None
    smsgate_password: str | None = None
    smsgate_signing_key: str | None = None
    smsgate_send_limit: int = 30  # SMS segments per SIM per 30 minutes, Android's own default
    smsgate_sim_number: int | None = None
    country: str | None = None  # reads local-form numbers; flows/deployment.yaml's `country` if unset
    # Security and resilience (issue 10).
    session_idle_hours: int = 8
    session_max_hours: int = 12
    db_connect_timeout: int = 3
    db_statement_timeout: int = 10
    db_lock_timeout: int = 5
    ratelimit_storage_uri: str = "memory://"
    ratelimit_key_prefix: str = "tipline"
    allow_remote_proxy: bool = False
    timezone: str | None = None  # TIPLINE_TIMEZONE; flows/deployment.yaml's `timezone` if unset

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        """Settings from environment variables (os.environ by default), keys made if absent."""
        env = dict(os.environ if environ is None else environ)
        instance = Path(env.get("TIPLINE_INSTANCE_PATH") or Path.cwd() / "instance").resolve()

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        database_url = get("TIPLINE_DATABASE_URL") or f"sqlite:///{instance / 'tipline.db'}"
        # psycopg 3 is the driver we install; plain postgresql:// would ask SQLAlchemy for psycopg2.
        for plain in ("postgresql://", "postgres://"):
            if database_url.startswith(plain):
                database_url = "postgresql+psycopg://" + database_url[len(plain):]
        values = dict(
            database_url=database_url,
            secret_key=get("TIPLINE_SECRET_KEY") or _instance_secret(instance, "secret_key", _token),
            pseudonym_key=get("TIPLINE_PSEUDONYM_KEY") or _instance_secret(instance, "pseudonym_key", _token),
            contact_key=get("TIPLINE_CONTACT_KEY") or _instance_secret(instance, "contact_key", _fernet_key),
            instance_path=instance,
            flows_path=Path(get("TIPLINE_FLOWS_PATH") or PROJECT_ROOT / "flows"),
            public_url=get("TIPLINE_PUBLIC_URL"),
            trusted_proxies=_int(get("TIPLINE_TRUSTED_PROXIES") or "0", "TIPLINE_TRUSTED_PROXIES"),
            service_name=get("TIPLINE_SERVICE_NAME"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_sms_from=get("TWILIO_SMS_FROM"),
            twilio_whatsapp_from=get("TWILIO_WHATSAPP_FROM"),
            twilio_api_base_url=get("TWILIO_API_BASE_URL"),
            log_level=(get("TIPLINE_LOG_LEVEL") or "INFO").upper(),
            timezone=get("TIPLINE_TIMEZONE"),
            **_outbox_settings(get),
            **_gateway_settings(get),
            **_security_settings(get),
        )
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name, value in (("TIPLINE_SECRET_KEY", self.secret_key), ("TIPLINE_PSEUDONYM_KEY", self.pseudonym_key)):
            if len(value) < MIN_SECRET_LENGTH:
                raise SettingsError(
                    f"{name} is too short ({len(value)} characters): use at least {MIN_SECRET_LENGTH} random "
                    f"characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
        try:
            if len(base64.urlsafe_b64decode(self.contact_key.encode())) != 32:
                raise ValueError
            Fernet(self.contact_key)
        except (ValueError, binascii.Error):
            raise SettingsError(
                "TIPLINE_CONTACT_KEY is not a Fernet key (URL-safe base64 of 32 bytes), e.g. "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            ) from None
        if not self.database_url.startswith(("sqlite", "postgresql")):
            raise SettingsError("TIPLINE_DATABASE_URL must be sqlite:///... or postgresql+psycopg://...")
        if self.database_url.startswith("sqlite:///") and Path(self.database_url[len("sqlite:///"):]).is_dir():
            raise SettingsError("TIPLINE_DATABASE_URL names a directory; give a file, e.g. sqlite:///instance/tipline.db")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise SettingsError("TIPLINE_PUBLIC_URL must start with https:// (or http://)")
        if self.session_idle_hours > self.session_max_hours:
            raise SettingsError("TIPLINE_SESSION_IDLE_HOURS must not be more than TIPLINE_SESSION_MAX_HOURS")
        if self.timezone is not None:
            from .engine.flow import known_zone

            if not known_zone(self.timezone):
                raise SettingsError(f"TIPLINE_TIMEZONE {self.timezone!r} is not a time zone name such as Asia/Jakarta "
                                    "(WIB), Asia/Makassar (WITA) or Asia/Jayapura (WIT)")
        self._validate_gateway()

    def _validate_gateway(self) -> None:
        if self.smsgate_url and not self.smsgate_url.startswith(("http://", "https://")):
            raise SettingsError("SMSGATE_URL must start with https:// or http://, e.g. http://192.168.1.20:8080")
        if self.smsgate_url and not (self.smsgate_username and self.smsgate_password):
            raise SettingsError("SMSGATE_URL is set but SMSGATE_USERNAME or SMSGATE_PASSWORD is not: the app's "
                                "Home tab shows both")
        if self.smsgate_sim_number is not None and not 1 <= self.smsgate_sim_number <= 3:
            raise SettingsError("SMSGATE_SIM_NUMBER must be 1, 2 or 3 (the SIM slot the tip line's card is in)")
        if self.smsgate_send_limit < 1:
            raise SettingsError("SMSGATE_SEND_LIMIT must be at least 1 SMS segment per 30 minutes")
        if self.country is not None:
            import phonenumbers

            if self.country.upper() not in phonenumbers.SUPPORTED_REGIONS:
                raise SettingsError(f"TIPLINE_COUNTRY {self.country!r} is not a two-letter country code such as ID")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def database_timeouts(self) -> dict[str, int]:
        """What storage.make_engine needs so that a silent database fails fast instead of hanging."""
        return {"connect_timeout": self.db_connect_timeout, "statement_timeout": self.db_statement_timeout,
                "lock_timeout": self.db_lock_timeout}


def _int(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {value!r}") from None
    if number < 0:
        raise SettingsError(f"{name} must not be negative")
    return number


def _token() -> str:
    return secrets.token_urlsafe(32)


def _fernet_key() -> str:
    return Fernet.generate_key().decode()


def _instance_secret(instance: Path, name: str, make) -> str:
    """Read a generated secret from the instance folder, creating it (mode 0600) the first time."""
    path = instance / name
    for _ in range(50):  # another process may be between creating and writing the file
        try:
            value = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            break
        if value:
            return value
        time.sleep(0.01)
    instance.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _instance_secret(instance, name, make)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value


def _outbox_settings(get) -> dict:
    """Partners, outbox and retention settings (issue 4); unset ones keep the dataclass defaults."""
    values: dict = {}
    if get("TIPLINE_ONCALL_NUMBER"):
        values["oncall_number"] = get("TIPLINE_ONCALL_NUMBER")
    if get("TWILIO_WHATSAPP_CONTENT_SID"):
        values["twilio_whatsapp_content_sid"] = get("TWILIO_WHATSAPP_CONTENT_SID")
    for name, key in (
        ("TIPLINE_ESCALATION_TIMEOUT_MINUTES", "escalation_timeout_minutes"),
        ("TIPLINE_OUTBOX_MAX_ATTEMPTS", "outbox_max_attempts"),
        ("TIPLINE_CONTACT_RETENTION_DAYS", "contact_retention_days"),
        ("TIPLINE_CONVERSATION_RETENTION_DAYS", "conversation_retention_days"),
        ("TIPLINE_CLOSED_TIP_RETENTION_DAYS", "closed_tip_text_retention_days"),
        ("TIPLINE_OUTBOX_RETENTION_DAYS", "outbox_retention_days"),
        ("TIPLINE_RESUME_HOURS", "resume_hours"),
    ):
        if get(name):
            values[key] = _int(get(name), name)
            if values[key] == 0 and key in ("escalation_timeout_minutes", "outbox_max_attempts"):
                raise SettingsError(f"{name} must be at least 1")
    if get("TIPLINE_SEND_RATE"):
        try:
            rate = float(get("TIPLINE_SEND_RATE"))
        except ValueError:
            raise SettingsError("TIPLINE_SEND_RATE must be a number of SMS segments per second, e.g. 1") from None
        if not 0 < rate <= 1000:
            raise SettingsError("TIPLINE_SEND_RATE must be more than 0 and at most 1000 segments per second")
        values["send_rate_per_second"] = rate
    return values


def _gateway_settings(get) -> dict:
    """SMS Gateway for Android settings (issue 14); unset ones keep the dataclass defaults."""
    values: dict = {
        "smsgate_url": get("SMSGATE_URL"),
        "smsgate_username": get("SMSGATE_USERNAME"),
        "smsgate_password": get("SMSGATE_PASSWORD"),
        "smsgate_signing_key": get("SMSGATE_SIGNING_KEY"),
        "country": get("TIPLINE_COUNTRY"),
    }
    if get("SMSGATE_SEND_LIMIT"):
        values["smsgate_send_limit"] = _int(get("SMSGATE_SEND_LIMIT"), "SMSGATE_SEND_LIMIT")
    if get("SMSGATE_SIM_NUMBER"):
        values["smsgate_sim_number"] = _int(get("SMSGATE_SIM_NUMBER"), "SMSGATE_SIM_NUMBER")
    return values


def _security_settings(get) -> dict:
    """Sessions, database timeouts, login limits' store and proxies (issue 10); unset ones keep the defaults."""
    values: dict = {}
    for name, key, lowest in (
        ("TIPLINE_SESSION_IDLE_HOURS", "session_idle_hours", 1),
        ("TIPLINE_SESSION_MAX_HOURS", "session_max_hours", 1),
        # psycopg waits at least 2 seconds for a connection, whatever is asked.
        ("TIPLINE_DB_CONNECT_TIMEOUT", "db_connect_timeout", 2),
        ("TIPLINE_DB_STATEMENT_TIMEOUT", "db_statement_timeout", 1),
        ("TIPLINE_DB_LOCK_TIMEOUT", "db_lock_timeout", 1),
    ):
        if get(name):
            values[key] = _int(get(name), name)
            if values[key] < lowest:
                raise SettingsError(f"{name} must be at least {lowest}")
    if get("TIPLINE_RATELIMIT_STORAGE_URI"):
        values["ratelimit_storage_uri"] = get("TIPLINE_RATELIMIT_STORAGE_URI")
    if get("TIPLINE_RATELIMIT_KEY_PREFIX"):
        values["ratelimit_key_prefix"] = get("TIPLINE_RATELIMIT_KEY_PREFIX")
    if get("TIPLINE_ALLOW_REMOTE_PROXY"):
        flag = get("TIPLINE_ALLOW_REMOTE_PROXY").lower()
        if flag not in ("1", "0", "true", "false", "yes", "no"):
            raise SettingsError("TIPLINE_ALLOW_REMOTE_PROXY must be 1 or 0")
        values["allow_remote_proxy"] = flag in ("1", "true", "yes")
    return values
