"""Settings: one typed object, read from ``JOBRELAY_*`` variables once at start."""

from __future__ import annotations

import enum
import functools
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import ConfigurationError
from app.models import DEFAULT_MAX_PAYLOAD_BYTES, describe_validation_error


class Mode(enum.StrEnum):
    LOCAL = "local"
    CROSS_INSTANCE = "cross_instance"


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "jobrelay"


class Settings(BaseSettings):
    """Every setting of jobrelay; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="JOBRELAY_", extra="ignore")

    mode: Mode | None = None
    redis_url: SecretStr | None = None
    broker_url: SecretStr | None = None
    result_url: SecretStr | None = None
    data_dir: Path = Field(default_factory=default_data_dir)
    key_prefix: str = Field(default="jobrelay", pattern=r"^[A-Za-z0-9._:-]{1,64}$")
    monitor_token: SecretStr | None = None
    monitor_host: str = "127.0.0.1"
    monitor_port: int = Field(default=5555, ge=1, le=65535)
    retention_s: float = Field(default=86_400, gt=0)
    max_payload_bytes: int = Field(default=DEFAULT_MAX_PAYLOAD_BYTES, gt=0)
    heartbeat_interval_s: float = Field(default=2.0, gt=0)
    node_timeout_s: float = Field(default=10.0, gt=0)
    dispatch_timeout_s: float = Field(default=30.0, gt=0)
    listen_timeout_s: float = Field(default=30.0, ge=0)
    pending_timeout_s: float = Field(default=300.0, gt=0)
    sweep_interval_s: float = Field(default=1.0, gt=0)
    node_refresh_s: float = Field(default=0.5, gt=0)
    retry_without_exclusions: bool = True
    best_few: int = Field(default=3, ge=1)
    max_cpu_percent: float = Field(default=100.0, gt=0)
    max_memory_percent: float = Field(default=95.0, gt=0)
    redis_timeout_s: float = Field(default=5.0, gt=0)
    polling_interval_s: float = Field(default=0.05, gt=0)
    visibility_timeout_s: int = Field(default=60, gt=0)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _resolve_and_check(self) -> Settings:
        if self.mode is None:
            self.mode = Mode.CROSS_INSTANCE if self.redis_url else Mode.LOCAL
        if self.mode is Mode.CROSS_INSTANCE and not self.redis_url:
            raise ValueError(
                "JOBRELAY_MODE=cross_instance needs JOBRELAY_REDIS_URL "
                "(for example redis://127.0.0.1:6379/0), or set JOBRELAY_MODE=local"
            )
        if self.mode is Mode.CROSS_INSTANCE and self.broker.split(":")[0] in LOCAL_ONLY_BROKERS:
            raise ValueError(
                "cross_instance mode needs a broker every host can reach: set "
                "JOBRELAY_BROKER_URL to a redis:// or amqp:// URL, or unset it to use the Redis"
            )
        if self.node_timeout_s <= self.heartbeat_interval_s:
            raise ValueError(
                "JOBRELAY_NODE_TIMEOUT_S must be longer than JOBRELAY_HEARTBEAT_INTERVAL_S, "
                "or every node would look offline between two heartbeats"
            )
        return self

    @property
    def resolved_mode(self) -> Mode:
        return self.mode or Mode.LOCAL

    @property
    def local(self) -> bool:
        return self.resolved_mode is Mode.LOCAL

    @property
    def redis(self) -> str:
        if self.redis_url is None:
            raise ConfigurationError("JOBRELAY_REDIS_URL is not set")
        return self.redis_url.get_secret_value()

    @property
    def broker(self) -> str:
        if self.broker_url is not None:
            return self.broker_url.get_secret_value()
        if self.redis_url is not None and self.mode is not Mode.LOCAL:
            return self.redis_url.get_secret_value()
        return "filesystem://localhost/"

    @property
    def result_backend(self) -> str:
        if self.result_url is not None:
            return self.result_url.get_secret_value()
        if self.redis_url is not None and self.mode is not Mode.LOCAL:
            return self.redis_url.get_secret_value()
        return f"file://{self.data_dir / 'results'}"


LOCAL_ONLY_BROKERS = frozenset({"filesystem", "memory"})


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, turning mistakes into one clear error."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        errors = exc.errors()
        if len(errors) == 1 and errors[0]["type"] == "value_error":
            message = str(errors[0]["ctx"]["error"])
            raise ConfigurationError(f"configuration: {message}") from exc
        raise ConfigurationError(describe_validation_error(exc, "configuration")) from exc


@functools.cache
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return load_settings()
