"""Signing in to a Databricks workspace, with the Databricks unified-auth precedence.

:func:`find_workspace` reads the settings: explicit arguments, then the ``DATABRICKS_*``
environment variables, then a profile of ``~/.databrickscfg`` (``DATABRICKS_CONFIG_FILE``;
``profile=`` / ``DATABRICKS_CONFIG_PROFILE``, else the ``DEFAULT`` section). As in the SDKs,
the file is read only when a profile is named or nothing else configured a host or
credentials. Each setting remembers where it came from, for error messages.

:func:`sign_in` picks the method: a personal access token and OAuth machine-to-machine
(service principals) are built here; every other method (the ``databricks auth login`` token
cache, Azure, the runtime / notebook context, ...) is delegated to ``databricks-sdk``'s
``Config``, imported only then (it takes seconds to import).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from extmodels_integrations._auth import Auth, StaticAuth
from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations._workspace_oauth import WorkspaceOAuth, sdk_sign_in

__all__ = [
    "ENV_VARS",
    "WORKSPACE_FIELDS",
    "Setting",
    "WorkspaceSettings",
    "WorkspaceSignIn",
    "find_workspace",
    "normalized_host",
    "sign_in",
    "signed_in_to",
]

#: Setting -> its environment variable, as the Databricks CLI and SDKs read them.
ENV_VARS = {
    "host": "DATABRICKS_HOST",
    "token": "DATABRICKS_TOKEN",
    "client_id": "DATABRICKS_CLIENT_ID",
    "client_secret": "DATABRICKS_CLIENT_SECRET",
    "auth_type": "DATABRICKS_AUTH_TYPE",
    "profile": "DATABRICKS_CONFIG_PROFILE",
}
#: The keyword arguments every workspace-facing class takes.
WORKSPACE_FIELDS = tuple(ENV_VARS)
_SECRETS = frozenset({"token", "client_secret"})
_CREDENTIALS = ("token", "client_id", "client_secret")
_CORE_METHODS = ("pat", "oauth-m2m")
_EXTRA = 'pip install "extmodels-integrations[databricks]"'
# Profile keys of sign-in methods only databricks-sdk has; other keys (cluster_id, ...) do not
# say how to sign in.
_SDK_AUTH_KEYS = frozenset(
    {
        "username",
        "password",
        "azure_client_id",
        "azure_client_secret",
        "azure_tenant_id",
        "azure_workspace_resource_id",
        "azure_use_msi",
        "google_service_account",
        "google_credentials",
        "metadata_service_url",
        "databricks_cli_path",
    }
)


@dataclass(frozen=True)
class Setting:
    """One setting's value (a ``SecretStr`` for secrets) and where it came from."""

    value: str | SecretStr
    source: str

    def text(self) -> str:
        """The value in plain text (for building requests, never for messages)."""
        value = self.value
        return value.get_secret_value() if isinstance(value, SecretStr) else value


@dataclass(frozen=True)
class WorkspaceSettings:
    """What :func:`find_workspace` found; ``profile_keys`` are the profile's keys of sign-in
    methods only ``databricks-sdk`` has (``azure_client_id``, ``username``, ...)."""

    values: Mapping[str, Setting]
    config_file: str
    profile_keys: tuple[str, ...] = ()

    def get(self, name: str) -> Setting | None:
        """The setting ``name``, if any source set it."""
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        """The plain value of ``name``, if set."""
        setting = self.values.get(name)
        return None if setting is None else setting.text()

    def sources(self) -> str:
        """``name from source`` for every setting found, secrets named but never shown."""
        found = [f"{name} from {s.source}" for name, s in self.values.items()]
        return "; ".join(found) if found else "nothing"

    def has_credentials(self) -> bool:
        """Whether anything beyond a host says how to sign in."""
        return bool(set(self.values) - {"host"}) or bool(self.profile_keys)

    def portable(self) -> dict[str, Any]:
        """Keyword arguments with which another process (a Spark executor, which does not see
        environment variables set in this one) finds these same settings: what came from
        arguments and environment variables, secrets as ``SecretStr``. A config-file
        profile's values stay in the file, which that process reads by the profile name."""
        return {
            name: setting.value
            for name, setting in self.values.items()
            if setting.source.startswith(("argument ", "env var "))
        }


@dataclass(frozen=True)
class WorkspaceSignIn:
    """A signed-in workspace: its URL, the auth every request to it carries, which method
    was chosen (``pat``, ``oauth-m2m``, ``sdk:<auth type>``) and from which sources."""

    host: str
    auth: Auth = field(repr=False)
    method: str
    source: str
    _portable: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def portable(self) -> dict[str, Any]:
        """Keyword arguments with which another process signs in by itself: the long-lived
        credentials (PAT, service principal, profile name, auth type), never a short-lived
        OAuth token. Secrets stay ``SecretStr``."""
        return dict(self._portable)


def find_workspace(
    arguments: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> WorkspaceSettings:
    """The workspace settings from ``arguments`` (``host``, ``token``, ``profile``,
    ``client_id``, ``client_secret``, ``auth_type``), else ``environ`` (default
    ``os.environ``), else the config-file profile."""
    env = os.environ if environ is None else environ
    values: dict[str, Setting] = {}
    for name in WORKSPACE_FIELDS:
        given = arguments.get(name)
        if isinstance(given, SecretStr) and not given.get_secret_value():
            given = None
        if given:
            values[name] = _setting(name, given, f"argument {name}=")
    for name, var in ENV_VARS.items():
        if name not in values and env.get(var):
            values[name] = _setting(name, env[var], f"env var {var}")
    config_file = _config_path(env)
    configured = any(name in values for name in ("host", *_CREDENTIALS))
    if "profile" not in values and configured:
        return WorkspaceSettings(values, config_file)
    return _with_profile(values, config_file)


def _setting(name: str, value: Any, source: str) -> Setting:
    if name in _SECRETS:
        return Setting(value if isinstance(value, SecretStr) else SecretStr(str(value)), source)
    return Setting(str(value), source)


def _config_path(env: Mapping[str, str]) -> str:
    path = env.get("DATABRICKS_CONFIG_FILE") or "~/.databrickscfg"
    if path.startswith("~") and env.get("HOME"):
        return str(Path(env["HOME"]) / path[2:]) if path != "~" else env["HOME"]
    return str(Path(path).expanduser())


def _with_profile(values: dict[str, Setting], config_file: str) -> WorkspaceSettings:
    named = values.get("profile")
    sections = _read_profiles(config_file, named)
    profile = named.text() if named is not None else _default_profile(sections)
    if profile is None:
        return WorkspaceSettings(values, config_file)
    if profile not in sections:
        if named is None:
            return WorkspaceSettings(values, config_file)
        known = ", ".join(sorted(sections)) or "none"
        raise ConfigurationError(
            f"profile: {config_file} has no profile '{profile}' (from {named.source}; "
            f"profiles there: {known}): add a [{profile}] section, fix the name, or set "
            "DATABRICKS_CONFIG_FILE to the file that has it"
        )
    source = f"profile '{profile}' in {config_file}"
    other = []
    for key, raw in sections[profile].items():
        if key in ENV_VARS and key != "profile":
            values.setdefault(key, _setting(key, raw, source))
        elif raw and key in _SDK_AUTH_KEYS:
            other.append(key)
    values.setdefault("profile", Setting(profile, source))
    return WorkspaceSettings(values, config_file, tuple(sorted(other)))


def _read_profiles(config_file: str, named: Setting | None) -> dict[str, dict[str, str]]:
    path = Path(config_file)
    if not path.exists():
        if named is not None:
            raise ConfigurationError(
                f"profile: '{named.text()}' (from {named.source}) needs the config file "
                f"{config_file}, which does not exist: create it (databricks configure), or "
                "set DATABRICKS_CONFIG_FILE to the file that has the profile"
            )
        return {}
    # No interpolation: a secret may hold '%'.
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        # The parser's message quotes lines of the file, which hold secrets.
        raise ConfigurationError(
            f"profile: {config_file} is not a valid INI file ({type(exc).__name__}): fix it "
            "or set DATABRICKS_CONFIG_FILE to another file"
        ) from None
    # As the SDKs read it: a profile does not inherit the DEFAULT section's keys.
    sections = {name: dict(parser._sections[name]) for name in parser.sections()}  # type: ignore[attr-defined]
    if parser.defaults():
        sections["DEFAULT"] = dict(parser.defaults())
    return sections


def _default_profile(sections: dict[str, dict[str, str]]) -> str | None:
    chosen = sections.pop("__settings__", {}).get("default_profile", "").strip()
    return chosen or ("DEFAULT" if "DEFAULT" in sections else None)


def sign_in(settings: WorkspaceSettings, *, timeout: float = 10.0) -> WorkspaceSignIn:
    """Choose the sign-in method for ``settings`` and build its auth; OAuth tokens are fetched
    at the first request. ``timeout`` bounds what ``databricks-sdk`` may spend on network
    probes when it is used. Raises :class:`ConfigurationError` saying what was tried, from
    which sources, and what to set."""
    auth_type = settings.text("auth_type")
    host = settings.text("host")
    if auth_type not in (None, *_CORE_METHODS) or settings.profile_keys:
        return _sdk(settings, timeout)
    if auth_type is None:
        _check_one_method(settings)
    if auth_type in (None, "pat") and settings.get("token") is not None:
        return _pat(settings, _need_host(settings, host, "pat"))
    if (
        auth_type in (None, "oauth-m2m")
        and settings.get("client_id")
        and settings.get("client_secret")
    ):
        return _m2m(settings, _need_host(settings, host, "oauth-m2m"))
    if auth_type is not None:
        raise ConfigurationError(_incomplete(settings, auth_type))
    if host is None and not os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        raise ConfigurationError(_no_method(settings, sdk_note=None))
    return _sdk(settings, timeout)


def signed_in_to(
    host: str,
    settings: WorkspaceSettings,
    signed_in: Callable[[], WorkspaceSignIn],
    *,
    field: str,
) -> WorkspaceSignIn:
    """The sign-in ``signed_in()`` makes from ``settings``, for a block naming workspace
    ``host`` but not ``field`` (its token), only when it is a sign-in to ``host``: one
    workspace's credentials are never sent to another. Else :class:`ConfigurationError`
    naming ``field`` and the fix."""
    wanted = normalized_host(host)
    found = settings.get("host")
    # Checked before signing in too: databricks-sdk may probe the other host.
    if found is not None and normalized_host(found.text()) != wanted:
        other = f"{normalized_host(found.text())} (host from {found.source})"
        raise ConfigurationError(_other_host(field, wanted, other))
    try:
        signed = signed_in()
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"{field}: not set, and signing in to {wanted} instead failed: {exc}"
        ) from None
    if signed.host != wanted:
        raise ConfigurationError(_other_host(field, wanted, f"{signed.host} ({signed.method})"))
    return signed


def _other_host(field: str, wanted: str, other: str) -> str:
    return (
        f"{field}: not set, and the workspace sign-in found is for {other}, not {wanted}: its "
        f"credentials are never sent to another workspace. Set {field} to a secret reference "
        "{{secrets/<scope>/<key>}} (or the value in " + field.rsplit(".", 1)[-1] + "_plaintext)"
        f", or sign in to {wanted}: host= or DATABRICKS_HOST with its credentials, or a "
        f"profile whose host is {wanted} (profile= or DATABRICKS_CONFIG_PROFILE)"
    )


def _need_host(settings: WorkspaceSettings, host: str | None, method: str) -> str:
    if host:
        return normalized_host(host)
    raise ConfigurationError(
        f"host: no workspace host for {method} sign-in (found: {settings.sources()}): pass "
        "host='https://<workspace>', set DATABRICKS_HOST, or put host = ... in the profile"
    )


def normalized_host(host: str) -> str:
    """``host`` without a trailing slash, ``https://`` added when it has no scheme (as the
    Databricks SDKs read ``DATABRICKS_HOST``)."""
    host = host.strip().rstrip("/")
    return host if "://" in host else "https://" + host


def _check_one_method(settings: WorkspaceSettings) -> None:
    token, client_id = settings.get("token"), settings.get("client_id")
    if token is not None and client_id is not None:
        raise ConfigurationError(
            "auth_type: more than one sign-in method is configured: pat (token from "
            f"{token.source}) and oauth-m2m (client_id from {client_id.source}): set "
            "auth_type='pat' or auth_type='oauth-m2m' (or DATABRICKS_AUTH_TYPE), or remove one"
        )


def _pat(settings: WorkspaceSettings, host: str) -> WorkspaceSignIn:
    token = settings.get("token")
    assert token is not None and isinstance(token.value, SecretStr)
    return WorkspaceSignIn(
        host=host,
        auth=StaticAuth({"Authorization": ("Bearer ", token.value)}),
        method="pat",
        source=token.source,
        _portable={"host": host, "token": token.value, "auth_type": "pat"},
    )


def _m2m(settings: WorkspaceSettings, host: str) -> WorkspaceSignIn:
    client_id, secret = settings.get("client_id"), settings.get("client_secret")
    assert client_id is not None and secret is not None and isinstance(secret.value, SecretStr)
    return WorkspaceSignIn(
        host=host,
        auth=WorkspaceOAuth(host=host, client_id=client_id.text(), client_secret=secret.value),
        method="oauth-m2m",
        source=f"client_id from {client_id.source}, client_secret from {secret.source}",
        _portable={
            "host": host,
            "client_id": client_id.text(),
            "client_secret": secret.value,
            "auth_type": "oauth-m2m",
        },
    )


def _sdk(settings: WorkspaceSettings, timeout: float) -> WorkspaceSignIn:
    try:
        import databricks.sdk.core  # noqa: F401  # only to learn whether the extra is there
    except ImportError:
        note = f"the other methods need databricks-sdk: {_EXTRA}"
        raise ConfigurationError(_no_method(settings, sdk_note=note)) from None
    arguments = {name: settings.text(name) for name in settings.values}
    arguments["config_file"] = settings.config_file
    try:
        host, auth, method = sdk_sign_in(arguments, timeout)
    except ConfigurationError as exc:
        auth_type = settings.get("auth_type")
        if auth_type is None:
            raise ConfigurationError(_no_method(settings, sdk_note=str(exc))) from None
        raise ConfigurationError(
            f"auth_type: sign-in with auth_type='{auth_type.text()}' (from {auth_type.source}) "
            f"failed: {exc}. Found: {settings.sources()}; config file {settings.config_file}"
        ) from None
    portable = {
        k: settings.get(k).value  # type: ignore[union-attr]
        for k in ("host", "profile", "token", "client_id", "client_secret")
        if settings.get(k) is not None
    }
    return WorkspaceSignIn(
        host=normalized_host(host),
        auth=auth,
        method=f"sdk:{method}",
        source=settings.sources(),
        _portable={**portable, "host": normalized_host(host), "auth_type": method},
    )


def _incomplete(settings: WorkspaceSettings, auth_type: str) -> str:
    source = settings.get("auth_type")
    assert source is not None
    if auth_type == "pat":
        need = "a token: pass token=... or set DATABRICKS_TOKEN"
    else:
        missing = [n for n in ("client_id", "client_secret") if settings.get(n) is None]
        need = (
            f"{' and '.join(missing)}: pass {', '.join(f'{m}=...' for m in missing)} or set "
            + " and ".join(ENV_VARS[m] for m in missing)
        )
    return (
        f"auth_type: auth_type='{auth_type}' (from {source.source}) needs {need} "
        f"(found: {settings.sources()})"
    )


def _no_method(settings: WorkspaceSettings, sdk_note: str | None) -> str:
    tried = [
        "pat (needs token= or DATABRICKS_TOKEN)",
        "oauth-m2m (needs client_id= and client_secret=, or DATABRICKS_CLIENT_ID and "
        "DATABRICKS_CLIENT_SECRET)",
    ]
    host = "" if settings.get("host") else " and a host (host= or DATABRICKS_HOST)"
    where = f"; {sdk_note}" if sdk_note else ""
    return (
        f"no workspace credentials: tried {', '.join(tried)}{where}. Found: "
        f"{settings.sources()}; config file {settings.config_file}. Set a token or a service "
        f"principal{host}, or name a profile of the config file (profile= or "
        "DATABRICKS_CONFIG_PROFILE)"
    )
