"""The only reader of the environment: every setting Minqing has, with its default.

`load_config()` turns an environment mapping into a Flask config dict. Nothing here
connects to anything; `create_app()` applies the result (and, with no SECRET_KEY, reads or
generates the instance's own key with `instance_secret()`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET_KEY = "dev-insecure-change-me"
ENVIRONMENTS = ("development", "testing", "production")

# name -> (default, description); README's table of variables is checked against this.
VARIABLES: dict[str, tuple[str | None, str]] = {
    "MINQING_ENV": ("development", "development | testing | production"),
    "SECRET_KEY": (
        None,
        "signs access tokens and sessions; required in production; "
        "unset elsewhere = a random key kept in <instance>/secret_key",
    ),
    "DATABASE_URL": (
        None,
        "PostGIS `postgresql://…` or SpatiaLite `sqlite:///path`; default instance/minqing.db",
    ),
    "CELERY_BROKER_URL": (None, "Redis URL for Celery; unset = tasks run in-process"),
    "CELERY_RESULT_BACKEND": (None, "Redis URL for task results; default: the broker"),
    "MINQING_TIMEZONE": ("Asia/Shanghai", "local time of the deployment (days, deadlines)"),
    "MINQING_INSTANCE_PATH": (None, "folder for the SpatiaLite file and media; default instance/"),
    "MINQING_ACCESS_TOKEN_TTL": ("28800", "lifetime of a user access token, seconds"),
    "MINQING_LOGIN_MAX_FAILURES": ("5", "failed logins for one name from one address"),
    "MINQING_LOGIN_LOCK_MINUTES": ("15", "window of that (name, address) throttle, minutes"),
    "MINQING_LOGIN_FAILURES_PER_ADDRESS": ("30", "failed logins one address may make in 10 min"),
    "MINQING_MEDIA_PATH": (None, "folder for uploaded photos; default <instance>/media"),
    "MINQING_RATING_TIMEOUT_DAYS": ("7", "days a resident has to rate before the case closes"),
    "MINQING_ESCALATE_AFTER_HOURS": ("24", "hours overdue before escalation to the subdistrict"),
    "MINQING_HOLIDAYS_FILE": (None, "JSON holiday calendar overriding the bundled one"),
    "MINQING_RESIDENT_REPORTS_PER_HOUR": ("5", "reports one resident address may file an hour"),
    "MINQING_WEBHOOK_MAX_ATTEMPTS": ("8", "delivery attempts before a webhook is marked failed"),
    "MINQING_WEBHOOK_RETRY_BASE_SECONDS": ("30", "first retry delay; doubles each attempt"),
    "MINQING_WEBHOOK_ALLOWED_HOSTS": (
        None,
        "comma-separated host[:port] webhooks may reach although not public (internal receivers)",
    ),
    "MINQING_VERIFY_WITHIN_HOURS": (
        "24",
        "a verification (核查) is on time within this of handling",
    ),
    "MINQING_INDEX_TIME": ("06:00", "local time the daily index is computed (for the day before)"),
    "MINQING_INDEX_WINDOW_DAYS": ("7", "trailing days of cases an index day looks at"),
    "MINQING_INDEX_WEIGHTS": (
        None,
        'JSON weights of the index components, e.g. {"satisfaction": 0.3}',
    ),
    "MINQING_DEMO_PASSWORD": ("minqing-demo", "password of the demo users made by `demo seed`"),
    "MINQING_MAX_UPLOAD_MB": ("10", "largest accepted request body, MiB"),
    "MINQING_SYNC_HORIZON_DAYS": (
        "30",
        "a phone's first sync: open cases plus this many days of closed cases, logs, patrols",
    ),
    "MINQING_SYNC_MAX_PUSH_RECORDS": (
        "1000",
        "records (created + updated + deleted) one push may hold",
    ),
    "MINQING_SYNC_MAX_PUSH_MB": ("10", "largest sync push body, MiB"),
    "MINQING_SYNC_PUSHES_PER_MINUTE": ("30", "pushes one device may make a minute"),
    "MINQING_RESIDENT_DATA_DAYS": (
        "180",
        "days after a case ended that residents' names and phones are removed from it",
    ),
    "MINQING_PERSON_PHOTO_DAYS": (
        "30",
        "days after every case and topic holding a photo of people ended that the photo is removed",
    ),
    "MINQING_SYNC_LOG_DAYS": ("30", "days sync push receipts and the devices' sync log are kept"),
    "MINQING_SYNC_REJECTION_DAYS": (
        "90",
        "days refused sync records (sync_rejections) are kept; phones then drop them too",
    ),
    "MINQING_PUBLIC_URL": (None, "external base URL, put in device QR codes"),
    "MINQING_DEVICE_ENROLMENT": (
        "1",
        "1 = collectors may pair a phone by signing in to the field app (/app/); 0 = QR codes only",
    ),
    "MINQING_DEVICES_PER_COLLECTOR": ("3", "active (unrevoked) devices a collector may have"),
    "SPATIALITE_LIBRARY_PATH": ("mod_spatialite", "SpatiaLite module to load"),
    "MINQING_LOG_LEVEL": ("INFO", "log level"),
    "MINQING_LOG_FORMAT": ("json", "json (one object per line, with the request id) or text"),
    "MINQING_METRICS_TOKEN": (
        None,
        "bearer token a Prometheus scraper sends to /metrics; unset = loopback clients only",
    ),
    "MINQING_BIND": (
        "127.0.0.1:5000",
        "gunicorn's address (`minqing serve` sets it from --host/--port)",
    ),
    "MINQING_WEB_WORKERS": (None, "gunicorn worker processes (make run); default by database"),
    "MINQING_WEB_THREADS": ("4", "threads per gunicorn worker (make run)"),
    "MINQING_CELERY_QUEUE": ("celery", "the Celery queue this deployment's tasks go to"),
    "MINQING_TERRITORY_RECHECK_SECONDS": (
        "1",
        "locate's in-memory grid index: how stale another process's territory writes may look, "
        "seconds (0 = checked on every request)",
    ),
    "MINQING_GEOCODER": (
        "none",
        "geocoder for addresses without coordinates (12345 import, Open311): none | amap (高德) "
        "| tianditu (天地图); what it cannot place is imported unlocated (待定位)",
    ),
    "MINQING_GEOCODER_KEY": (None, "geocoder: the provider's key (高德 key / 天地图 tk)"),
    "MINQING_GEOCODER_URL": (
        None,
        "geocoder: endpoint override (default: the provider's public geocoding URL)",
    ),
    "MINQING_GEOCODER_CITY": (
        None,
        "geocoder: city name or adcode the address is searched in (e.g. 扬州市), recommended",
    ),
    "MINQING_GEOCODER_TIMEOUT_SECONDS": (
        "5",
        "geocoder: seconds one request may take (connect and read); a failure leaves the case "
        "unlocated",
    ),
    "MINQING_BEAT_TICK_SECONDS": ("30", "beat's heartbeat period; /readyz fails after 3 missed"),
    "MINQING_PROXY_HOPS": ("0", "reverse proxies in front (trust that many X-Forwarded-* hops)"),
    "MINQING_WEB_SESSION_MINUTES": ("120", "web console: idle minutes before a session expires"),
    "MINQING_SESSION_MAX_HOURS": (
        "12",
        "web console: hours after sign-in a session ends, idle or not",
    ),
    "MINQING_MAP_TILE_URL": (
        None,
        "maps: optional XYZ tile URL template ({z}/{x}/{y}, {s} for sub-domains); unset (and no "
        "天地图 key) = our outlines on a plain background",
    ),
    "MINQING_MAP_TILE_SUBDOMAINS": (None, "maps: the letters/digits {s} stands for (default abc)"),
    "MINQING_MAP_TILE_CRS": (
        "wgs84",
        "maps: the tiles' coordinate system, wgs84 | gcj02 (高德, 腾讯) | bd09; our WGS84 "
        "geometry is converted to it before drawing",
    ),
    "MINQING_MAP_TILE_ATTRIBUTION": (None, "maps: the tile provider's credit line"),
    "MINQING_MAP_TILE_MAX_ZOOM": ("18", "maps: the highest zoom level the tiles have"),
    "MINQING_MAP_TIANDITU_KEY": (
        None,
        "maps: a 天地图 browser key; used (vector map + labels, WMTS) when MINQING_MAP_TILE_URL "
        "is unset",
    ),
    "MINQING_SMS_PROVIDER": ("log", "SMS to residents: log (write to the log only) or aliyun"),
    "MINQING_SMS_ENDPOINT": (None, "SMS provider endpoint; default https://dysmsapi.aliyuncs.com/"),
    "MINQING_SMS_ACCESS_KEY_ID": (None, "SMS provider AccessKey ID"),
    "MINQING_SMS_ACCESS_KEY_SECRET": (None, "SMS provider AccessKey secret"),
    "MINQING_SMS_SIGN_NAME": (None, "SMS signature (签名) approved by the provider"),
    "MINQING_SMS_REGION": ("cn-hangzhou", "SMS provider region"),
    "MINQING_SMS_TEMPLATES": (
        None,
        'JSON: approved template codes per message, e.g. {"accepted": "SMS_1", "handled": '
        '"SMS_2", "awaiting_rating": "SMS_3"}; variables ${number} and ${link}',
    ),
    "MINQING_CASE_LOOKUPS_PER_HOUR": (
        "10",
        "residents' case lookups (number + last 4 digits of the phone) per address an hour",
    ),
}


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the service refuses to start."""


MIN_SECRET_LENGTH = 32
SECRET_FILE_NAME = "secret_key"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost", "[::1]")


def is_weak_secret(secret: str) -> bool:
    """The built-in development value or anything shorter than 32 characters."""
    return secret == DEFAULT_SECRET_KEY or len(secret) < MIN_SECRET_LENGTH


def instance_secret(instance_path: Path) -> str:
    """This install's own random key, generated once into the instance folder (mode 600).

    Rotating it: delete the file (or set SECRET_KEY); every access token and web session
    signed with the old key stops working at once (docs/security.md).
    """
    import secrets

    path = instance_path / SECRET_FILE_NAME
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if len(existing) >= MIN_SECRET_LENGTH:
        return existing
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together keep the first one's key
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if existing:  # a short or damaged file: replace it
            path.unlink()
            return instance_secret(instance_path)
        return path.read_text().strip() or instance_secret(instance_path)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def bind_warning(host: str, secret_source: str, secret: str) -> str | None:
    """A warning when a non-loopback address is served with a generated or weak key."""
    if host.strip() in LOOPBACK_HOSTS or host.startswith("127."):
        return None
    if secret_source == "generated":
        reason = "a key generated on this machine (fine for a demo, not for a service)"
        reason_zh = "本机自动生成的密钥"
    elif is_weak_secret(secret):
        reason = "a weak SECRET_KEY (the built-in value or shorter than 32 characters)"
        reason_zh = "弱 SECRET_KEY（内置值或少于 32 个字符）"
    else:
        return None
    return (
        f"WARNING: serving on {host}, reachable from other machines, with {reason}. "
        "Set SECRET_KEY to a random value of at least 32 characters and MINQING_ENV=production "
        f"for real use.\n警告：正在 {host} 上对外提供服务，使用的是{reason_zh}。"
        "正式使用请设置至少 32 个字符的随机 SECRET_KEY 并设置 MINQING_ENV=production。"
    )


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return VARIABLES[name][0]
    return value.strip()


def _int(env: Mapping[str, str], name: str, minimum: int = 1) -> int:
    raw = _get(env, name) or "0"
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def _host_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = _get(env, name) or ""
    entries = tuple(e.strip().lower() for e in raw.split(",") if e.strip())
    for entry in entries:
        host = entry.strip("[]").rsplit(":", 1)
        if not entry or any(ch.isspace() or ch in "/@?#" for ch in entry):
            raise ConfigError(f"{name}: {entry!r} is not host or host:port")
        if (
            len(host) == 2
            and not entry.startswith("[")
            and entry.count(":") == 1
            and not host[1].isdigit()
        ):
            raise ConfigError(f"{name}: {entry!r} has a bad port")
    return entries


def _clock(env: Mapping[str, str], name: str) -> str:
    raw = _get(env, name) or ""
    parts = raw.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConfigError(f"{name} must be HH:MM, not {raw!r}")
    hour, minute = int(parts[0]), int(parts[1])
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ConfigError(f"{name} must be HH:MM, not {raw!r}")
    return f"{hour:02d}:{minute:02d}"


def _json_object(env: Mapping[str, str], name: str) -> dict[str, float]:
    raw = _get(env, name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a JSON object, not {raw!r}") from None
    if not isinstance(value, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
    ):
        raise ConfigError(f"{name} must be a JSON object of numbers")
    return {str(k): float(v) for k, v in value.items()}


def _log_format(env: Mapping[str, str]) -> str:
    value = (_get(env, "MINQING_LOG_FORMAT") or "json").strip().lower()
    if value not in ("json", "text"):
        raise ConfigError(f"MINQING_LOG_FORMAT must be json or text, not {value!r}")
    return value


def _sms(env: Mapping[str, str]) -> dict[str, Any]:
    """The SMS channel's settings; an `aliyun` provider needs its key, signature and the
    three templates (the service refuses to start without them)."""
    provider = (_get(env, "MINQING_SMS_PROVIDER") or "log").lower()
    if provider not in ("log", "aliyun"):
        raise ConfigError(f"MINQING_SMS_PROVIDER must be log or aliyun, not {provider!r}")
    raw = _get(env, "MINQING_SMS_TEMPLATES")
    try:
        templates = json.loads(raw) if raw else {}
    except ValueError:
        raise ConfigError("MINQING_SMS_TEMPLATES must be a JSON object") from None
    if not isinstance(templates, dict) or not all(isinstance(v, str) for v in templates.values()):
        raise ConfigError("MINQING_SMS_TEMPLATES must be a JSON object of template codes")
    settings = {
        "provider": provider,
        "endpoint": _get(env, "MINQING_SMS_ENDPOINT"),
        "access_key_id": _get(env, "MINQING_SMS_ACCESS_KEY_ID"),
        "access_key_secret": _get(env, "MINQING_SMS_ACCESS_KEY_SECRET"),
        "sign_name": _get(env, "MINQING_SMS_SIGN_NAME"),
        "region": _get(env, "MINQING_SMS_REGION"),
        "templates": templates,
    }
    if provider == "aliyun":
        missing = [
            name
            for name in ("access_key_id", "access_key_secret", "sign_name")
            if not settings[name]
        ] + [
            f"templates.{kind}"
            for kind in ("accepted", "handled", "awaiting_rating")
            if kind not in templates
        ]
        if missing:
            raise ConfigError(f"MINQING_SMS_PROVIDER=aliyun needs: {', '.join(missing)}")
    return settings


def _timezone(env: Mapping[str, str]) -> str:
    name = _get(env, "MINQING_TIMEZONE") or "Asia/Shanghai"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"MINQING_TIMEZONE: unknown time zone {name!r}") from None
    return name


def normalise_database_url(url: str) -> str:
    """Map the URL spellings people use onto the drivers we ship (psycopg 3, pysqlite3)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("spatialite://"):
        url = "sqlite://" + url[len("spatialite://") :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def engine_options(url: str) -> dict[str, Any]:
    """SQLAlchemy engine options for the backend the URL names."""
    if is_sqlite(url):
        # SQLite dlopens mod_spatialite with RTLD_GLOBAL, so the system PROJ it links would
        # shadow pyproj's bundled PROJ if pyproj were imported later: the process then dies
        # with a double free at exit (measured). Importing pyproj and shapely first avoids it.
        import pyproj  # noqa: F401
        import pysqlite3.dbapi2 as sqlite_module  # has enable_load_extension
        import shapely  # noqa: F401

        return {
            "module": sqlite_module,
            "plugins": ["geoalchemy2"],
            "connect_args": {"timeout": 30, "check_same_thread": False},
        }
    # psycopg prepares a query on the server after a few executions; PostgreSQL may then
    # switch it to a generic plan made without the values (measured: a number-prefix search at
    # 1M cases took 22 s on one). Custom plans always: parsing is still saved.
    return {
        "pool_pre_ping": True,
        "plugins": ["geoalchemy2"],
        "connect_args": {"options": "-c plan_cache_mode=force_custom_plan"},
    }


def spatialite_url(url: str) -> str:
    """Ask GeoAlchemy2 to initialise only the WGS84 SRIDs (seconds faster than all EPSG)."""
    if "geoalchemy2_connect_sqlite_init_mode" in url:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}geoalchemy2_connect_sqlite_init_mode=WGS84"


def _tile_url(env: Mapping[str, str]) -> str | None:
    url = _get(env, "MINQING_MAP_TILE_URL")
    if url is None:
        return None
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or "{" in parts.netloc.replace("{s}", "")
    ):
        raise ConfigError(f"MINQING_MAP_TILE_URL must be an http(s) URL template, not {url!r}")
    if not all(p in url for p in ("{z}", "{x}", "{y}")):
        raise ConfigError("MINQING_MAP_TILE_URL must contain {z}, {x} and {y}")
    return url


def _tile_crs(env: Mapping[str, str]) -> str:
    crs = (_get(env, "MINQING_MAP_TILE_CRS") or "wgs84").lower()
    if crs not in ("wgs84", "gcj02", "bd09"):
        raise ConfigError(f"MINQING_MAP_TILE_CRS must be wgs84, gcj02 or bd09, not {crs!r}")
    return crs


GEOCODERS = ("none", "amap", "tianditu")


def _geocoder(env: Mapping[str, str]) -> dict[str, Any]:
    provider = (_get(env, "MINQING_GEOCODER") or "none").lower()
    if provider not in GEOCODERS:
        raise ConfigError(f"MINQING_GEOCODER must be none, amap or tianditu, not {provider!r}")
    key = _get(env, "MINQING_GEOCODER_KEY")
    if provider != "none" and not key:
        raise ConfigError(f"MINQING_GEOCODER={provider} needs MINQING_GEOCODER_KEY")
    url = _get(env, "MINQING_GEOCODER_URL")
    if url is not None and not url.startswith(("https://", "http://")):
        raise ConfigError(f"MINQING_GEOCODER_URL must be an http(s) URL, not {url!r}")
    return {
        "provider": provider,
        "key": key,
        "url": url,
        "city": _get(env, "MINQING_GEOCODER_CITY"),
        "timeout": float(_int(env, "MINQING_GEOCODER_TIMEOUT_SECONDS")),
    }


def load_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read every setting from `environ` (default: the process environment)."""
    env = os.environ if environ is None else environ
    env_name = _get(env, "MINQING_ENV") or "development"
    if env_name not in ENVIRONMENTS:
        raise ConfigError(f"MINQING_ENV must be one of {ENVIRONMENTS}, not {env_name!r}")

    instance_path = Path(_get(env, "MINQING_INSTANCE_PATH") or PROJECT_ROOT / "instance")
    secret = _get(env, "SECRET_KEY")
    secret_source = "environment"
    if env_name == "production" and (secret is None or is_weak_secret(secret)):
        raise ConfigError(
            "SECRET_KEY must be set to a random value of at least 32 characters in production "
            "(生产环境必须设置至少 32 个字符的随机 SECRET_KEY)"
        )
    if secret is None:
        secret_source = "generated"  # create_app() reads or makes <instance>/secret_key

    db_url = _get(env, "DATABASE_URL") or f"sqlite:///{instance_path / 'minqing.db'}"
    db_url = normalise_database_url(db_url)
    if is_sqlite(db_url):
        db_url = spatialite_url(db_url)

    broker = _get(env, "CELERY_BROKER_URL")
    timezone = _timezone(env)
    max_upload_mb = _int(env, "MINQING_MAX_UPLOAD_MB")

    return {
        "MINQING_ENV": env_name,
        "TESTING": env_name == "testing",
        "SECRET_KEY": secret,
        "SECRET_KEY_SOURCE": secret_source,
        "INSTANCE_PATH": str(instance_path),
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(db_url),
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "MINQING_TIMEZONE": timezone,
        "ACCESS_TOKEN_TTL": _int(env, "MINQING_ACCESS_TOKEN_TTL", minimum=60),
        "LOGIN_MAX_FAILURES": _int(env, "MINQING_LOGIN_MAX_FAILURES"),
        "LOGIN_LOCK_MINUTES": _int(env, "MINQING_LOGIN_LOCK_MINUTES"),
        "LOGIN_FAILURES_PER_ADDRESS": _int(env, "MINQING_LOGIN_FAILURES_PER_ADDRESS"),
        "MEDIA_PATH": _get(env, "MINQING_MEDIA_PATH") or str(instance_path / "media"),
        "RATING_TIMEOUT_DAYS": _int(env, "MINQING_RATING_TIMEOUT_DAYS"),
        "ESCALATE_AFTER_HOURS": _int(env, "MINQING_ESCALATE_AFTER_HOURS"),
        "HOLIDAYS_FILE": _get(env, "MINQING_HOLIDAYS_FILE"),
        "RESIDENT_REPORTS_PER_HOUR": _int(env, "MINQING_RESIDENT_REPORTS_PER_HOUR"),
        "WEBHOOK_MAX_ATTEMPTS": _int(env, "MINQING_WEBHOOK_MAX_ATTEMPTS"),
        "WEBHOOK_RETRY_BASE_SECONDS": _int(env, "MINQING_WEBHOOK_RETRY_BASE_SECONDS"),
        "WEBHOOK_TIMEOUT_SECONDS": 10,
        "WEBHOOK_ALLOWED_HOSTS": _host_list(env, "MINQING_WEBHOOK_ALLOWED_HOSTS"),
        "THUMBNAIL_SIZE": 320,
        "VERIFY_WITHIN_HOURS": _int(env, "MINQING_VERIFY_WITHIN_HOURS"),
        "INDEX_TIME": _clock(env, "MINQING_INDEX_TIME"),
        "INDEX_WINDOW_DAYS": _int(env, "MINQING_INDEX_WINDOW_DAYS"),
        "INDEX_WEIGHTS": _json_object(env, "MINQING_INDEX_WEIGHTS"),
        "DEMO_PASSWORD": _get(env, "MINQING_DEMO_PASSWORD"),
        "PUBLIC_URL": _get(env, "MINQING_PUBLIC_URL"),
        "DEVICE_ENROLMENT": _int(env, "MINQING_DEVICE_ENROLMENT", minimum=0) > 0,
        "DEVICES_PER_COLLECTOR": _int(env, "MINQING_DEVICES_PER_COLLECTOR"),
        "SPATIALITE_LIBRARY_PATH": _get(env, "SPATIALITE_LIBRARY_PATH"),
        "LOG_LEVEL": _get(env, "MINQING_LOG_LEVEL"),
        "LOG_FORMAT": _log_format(env),
        "METRICS_TOKEN": _get(env, "MINQING_METRICS_TOKEN"),
        "BEAT_TICK_SECONDS": _int(env, "MINQING_BEAT_TICK_SECONDS"),
        "TERRITORY_RECHECK_SECONDS": _int(env, "MINQING_TERRITORY_RECHECK_SECONDS", minimum=0),
        "PROXY_HOPS": _int(env, "MINQING_PROXY_HOPS", minimum=0),
        "WEB_SESSION_MINUTES": _int(env, "MINQING_WEB_SESSION_MINUTES"),
        "SESSION_MAX_HOURS": _int(env, "MINQING_SESSION_MAX_HOURS"),
        "MAP_TILE_URL": _tile_url(env),
        "MAP_TILE_SUBDOMAINS": _get(env, "MINQING_MAP_TILE_SUBDOMAINS"),
        "MAP_TILE_CRS": _tile_crs(env),
        "MAP_TILE_ATTRIBUTION": _get(env, "MINQING_MAP_TILE_ATTRIBUTION"),
        "MAP_TILE_MAX_ZOOM": _int(env, "MINQING_MAP_TILE_MAX_ZOOM"),
        "MAP_TIANDITU_KEY": _get(env, "MINQING_MAP_TIANDITU_KEY"),
        "SMS": _sms(env),
        "CASE_LOOKUPS_PER_HOUR": _int(env, "MINQING_CASE_LOOKUPS_PER_HOUR"),
        "GEOCODER": _geocoder(env),
        # web pages: the session cookie is unreadable to scripts and not sent cross-site
        "SESSION_COOKIE_NAME": "minqing_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env_name == "production",
        "MAX_UPLOAD_BYTES": max_upload_mb * 1024 * 1024,
        "SYNC_HORIZON_DAYS": _int(env, "MINQING_SYNC_HORIZON_DAYS", minimum=1),
        "SYNC_MAX_PUSH_RECORDS": _int(env, "MINQING_SYNC_MAX_PUSH_RECORDS"),
        "SYNC_MAX_PUSH_BYTES": _int(env, "MINQING_SYNC_MAX_PUSH_MB") * 1024 * 1024,
        "SYNC_PUSHES_PER_MINUTE": _int(env, "MINQING_SYNC_PUSHES_PER_MINUTE"),
        "RESIDENT_DATA_DAYS": _int(env, "MINQING_RESIDENT_DATA_DAYS"),
        "PERSON_PHOTO_DAYS": _int(env, "MINQING_PERSON_PHOTO_DAYS"),
        "SYNC_LOG_DAYS": _int(env, "MINQING_SYNC_LOG_DAYS"),
        "SYNC_REJECTION_DAYS": _int(env, "MINQING_SYNC_REJECTION_DAYS"),
        # the body limit leaves room for multipart framing around a maximal photo
        "MAX_CONTENT_LENGTH": max(max_upload_mb, _int(env, "MINQING_SYNC_MAX_PUSH_MB"))
        * 1024
        * 1024
        + 64 * 1024,
        "MIGRATIONS_DIR": str(PROJECT_ROOT / "migrations"),
        "CELERY": {
            "broker_url": broker or "memory://",
            "result_backend": _get(env, "CELERY_RESULT_BACKEND") or broker,
            "task_always_eager": broker is None,
            "task_default_queue": _get(env, "MINQING_CELERY_QUEUE") or "celery",
            "task_eager_propagates": True,
            "task_ignore_result": True,
            "timezone": timezone,
            "enable_utc": True,
            "broker_connection_retry_on_startup": True,
        },
        # flask-smorest / OpenAPI
        "API_TITLE": "Minqing 民情 API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/v1/docs/static/",
    }
