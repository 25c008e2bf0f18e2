"""Settings: one object, read from the environment (prefix ``SMM_``) and an optional ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service. Names and defaults of the public ones follow docs/api-contract.md."""

    model_config = SettingsConfigDict(env_prefix="SMM_", env_file=".env", extra="ignore")

    database_url: str | None = None
    data_dir: Path = Path("./data")
    secret_key: str | None = None
    bootstrap_api_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str | None = None

    telegram_api_base: str = "https://api.telegram.org"
    vk_api_base: str = "https://api.vk.ru"
    vk_api_version: str = "5.199"
    facebook_api_base: str = "https://graph.facebook.com"
    instagram_api_base: str = "https://graph.facebook.com"
    graph_api_version: str = "v26.0"

    # sign-in flows (OAuth): app credentials (secrets from the environment only) and the dialogs' bases
    vk_app_id: str | None = None
    vk_app_secret: str | None = None
    facebook_app_id: str | None = None
    facebook_app_secret: str | None = None
    instagram_app_id: str | None = None
    instagram_app_secret: str | None = None
    vk_oauth_base: str = "https://oauth.vk.com"
    facebook_oauth_base: str = "https://www.facebook.com"
    instagram_oauth_base: str = "https://www.instagram.com"
    # Instagram Login's code exchange and its token endpoints live on their own hosts
    instagram_login_token_base: str = "https://api.instagram.com"
    instagram_login_graph_base: str = "https://graph.instagram.com"
    connect_flow_ttl: float = 600.0  # seconds a sign-in may take between the redirect and the callback
    token_refresh_interval: float = 6 * 3600.0  # how often the refresh job looks for tokens to refresh
    token_refresh_before: float = 30 * 86400.0  # refresh Instagram tokens that expire sooner than this

    # publisher
    missed_grace: float = 3600.0
    claim_lease: float = 60.0
    # a worker whose heartbeat is older than this is dead: the others take over its claims (heartbeats come
    # every third of it)
    worker_dead_after: float = Field(default=10.0, gt=0)
    shutdown_grace: float = 10.0
    safety_tick: float = 15.0
    max_attempts: int = 8
    retry_max_age: float = 6 * 3600.0
    retry_base_delay: float = 5.0
    retry_max_delay: float = 900.0
    dispatch_batch: int = 50
    dispatch_concurrency: int = 200
    http_timeout: float = 30.0
    series_horizon_days: int = 14
    # seconds before a post's time when its media is fetched and checked and the platform's upload steps run
    # (VK photos saved, Instagram containers made): the visible call then goes out at the time; 0 = off
    prepare_ahead: float = Field(default=300.0, ge=0)

    # analyzer / planning
    min_post_spacing: float = 7200.0
    engagement_sync_interval: float = 6 * 3600.0

    # sign-in: refused attempts allowed per client address and per key prefix within the window
    login_max_failures: int = 10
    login_window: float = 300.0

    sandbox: bool = False
    # hosts user-supplied URLs may reach although they are private: "host" or "host:port", comma-separated
    fetch_allow_hosts: str = ""
    max_body_bytes: int = Field(default=1024 * 1024)
    max_upload_bytes: int = Field(default=50 * 1024 * 1024)
    log_level: str = "INFO"
    log_format: str = "text"  # text | json (one JSON object per line)
    # Prometheus metrics: /metrics on smm serve's port; an smm worker serves them on metrics_port
    metrics: bool = False
    metrics_port: int = 9464

    @field_validator("database_url")
    @classmethod
    def _normalise_db_url(cls, value: str | None) -> str | None:
        if value and value.startswith("postgresql://"):
            return "postgresql+asyncpg://" + value.removeprefix("postgresql://")
        if value and value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.removeprefix("postgres://")
        if value and value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        return value

    @field_validator("fetch_allow_hosts")
    @classmethod
    def _check_allow_hosts(cls, value: str) -> str:
        from connectors.addresses import parse_allow_hosts

        try:
            parse_allow_hosts(value)
        except ValueError as exc:
            raise ValueError(f"SMM_FETCH_ALLOW_HOSTS: {exc}; give comma-separated host or host:port entries") from exc
        return value

    @field_validator("log_format")
    @classmethod
    def _check_log_format(cls, value: str) -> str:
        if value.strip().lower() not in ("text", "json"):
            raise ValueError("SMM_LOG_FORMAT must be text or json")
        return value.strip().lower()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'smm.db').resolve()}"

    @property
    def effective_public_base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
