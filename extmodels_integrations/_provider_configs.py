"""The ``<provider>_config`` blocks of an ``external_model``: one pydantic model per
provider, with the Databricks serving API's field names, the shared secret rules (a reference
or its ``*_plaintext`` twin, exactly one) and each provider's own checks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ._exceptions import ConfigurationError, NotDeployableWarning
from ._secrets import REFERENCE_FORMAT, SecretResolver, secret_reference_problem
from ._validation import ISSUES_KIND, message
from ._warn import warn_user

DEFAULT_OPENAI_API_BASE = "https://api.openai.com/v1"
DEFAULT_ANTHROPIC_API_BASE = "https://api.anthropic.com"
DEFAULT_COHERE_API_BASE = "https://api.cohere.com"
DEFAULT_AI21LABS_API_BASE = "https://api.ai21.com/studio/v1"

Issues = list[tuple[str, str]]

_LOCAL_BASE = "a proxy or test server in place of the provider's API"
_LOCAL_SESSION = (
    "temporary AWS credentials; a served endpoint takes long-lived keys or "
    "instance_profile_arn instead"
)

MODEL_CONFIG = ConfigDict(
    extra="forbid",
    frozen=True,
    # pydantic's own messages quote the input (the whole block, plaintext keys included).
    hide_input_in_errors=True,
    defer_build=True,
)


def fail(kind: str, detail: str) -> PydanticCustomError:
    # The detail goes through ctx, not the template: our texts contain literal "{{...}}".
    return PydanticCustomError(kind, "{detail}", {"detail": detail})


def raise_issues(issues: Issues) -> None:
    """Report several (field, message) problems of one model as a single pydantic error."""
    if issues:
        detail = "; ".join(f"{field}: {message}" for field, message in issues)
        raise PydanticCustomError(
            ISSUES_KIND, "{detail}", {"detail": detail, "issues": tuple(issues)}
        )


class _ProviderConfig(BaseModel):
    """Shared behaviour of the ``<provider>_config`` blocks."""

    model_config = MODEL_CONFIG

    secret_fields: ClassVar[tuple[str, ...]] = ()
    """Names of the secret fields; each has a ``<name>_plaintext`` twin."""
    url_fields: ClassVar[tuple[str, ...]] = ()
    local_fields: ClassVar[dict[str, str]] = {}
    """Fields of ours that the Databricks serving API does not have, with what they are for."""

    @field_validator("*")
    @classmethod
    def _check_field(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if value is None:
            return value
        if name in cls.secret_fields:
            problem = secret_reference_problem(value)
            if problem is not None:
                raise fail(
                    "secret_reference",
                    f"not a valid secret reference: it {problem}; write it as "
                    f"{REFERENCE_FORMAT}, or put the value itself in {name}_plaintext",
                )
        elif name.endswith("_plaintext") and not value.get_secret_value().strip():
            raise fail("empty_secret", "is empty: put the secret value in it or remove it")
        elif name in cls.url_fields:
            if not isinstance(value, str) or not value.startswith(("https://", "http://")):
                raise fail("url", "must be a URL starting with https:// (or http://)")
            return value.rstrip("/")
        return value

    @model_validator(mode="after")
    def _check_model(self) -> _ProviderConfig:
        raise_issues(self._issues())
        return self

    def _issues(self) -> Issues:
        # Default rule: every secret is required. Providers with optional secrets override.
        return [i for name in self.secret_fields for i in self._pair(name, required=True)]

    def _given(self, name: str) -> str | None:
        """Which key supplies secret ``name`` (itself or its plaintext twin), if any."""
        if getattr(self, name) is not None:
            return name
        if getattr(self, f"{name}_plaintext") is not None:
            return f"{name}_plaintext"
        return None

    def _pair(self, name: str, *, required: bool, when: str = "") -> Issues:
        plain = f"{name}_plaintext"
        if getattr(self, name) is not None and getattr(self, plain) is not None:
            return [
                (
                    name,
                    f"give either {name} or {plain}, not both: keep the reference "
                    f"{REFERENCE_FORMAT} in {name} or the value in {plain}",
                )
            ]
        if required and self._given(name) is None:
            return [
                (
                    name,
                    f"required{when}: set {name} to a secret reference "
                    f"{REFERENCE_FORMAT} or {plain} to the value",
                )
            ]
        return []

    def secret(self, name: str, resolver: SecretResolver) -> SecretStr | None:
        """The value of secret ``name``: its plaintext twin, else its reference resolved.

        ``None`` when the (optional) secret is not given at all.
        """
        if name not in self.secret_fields:
            raise ConfigurationError(
                f"{type(self).__name__} has no secret {name!r}; "
                f"its secrets are {', '.join(self.secret_fields)}"
            )
        plain: SecretStr | None = getattr(self, f"{name}_plaintext")
        if plain is not None:
            return plain
        reference: str | None = getattr(self, name)
        return None if reference is None else resolver.resolve(reference)

    @property
    def base_url(self) -> str:
        """The base URL calls go to (the override if given, else the provider's default)."""
        raise NotImplementedError

    def local_only(self) -> list[str]:
        """The fields set here that a real endpoint would refuse, each with why."""
        return [
            f"{name} ({why}) is not a field of the Databricks serving API"
            for name, why in self.local_fields.items()
            if name in self.model_fields_set
        ]

    def deploy_needs(self) -> list[str]:
        """Fields left out here that only a local run can do without, each with its fix."""
        return []


class OpenAiConfig(_ProviderConfig):
    """``openai_config``: OpenAI, any OpenAI-compatible server, and Azure OpenAI.

    ``openai_api_type`` picks the flavour: ``openai`` (default; API key), ``azure`` (API key;
    base, version and deployment required) or ``azuread`` (Microsoft Entra ID: base, version,
    deployment, and either the three ``microsoft_entra_*`` fields for client credentials, or
    ``openai_api_key`` used as a ready bearer token, as MLflow does).
    """

    secret_fields: ClassVar[tuple[str, ...]] = ("openai_api_key", "microsoft_entra_client_secret")
    url_fields: ClassVar[tuple[str, ...]] = ("openai_api_base",)

    openai_api_type: Literal["openai", "azure", "azuread"] = "openai"
    openai_api_key: str | None = None
    openai_api_key_plaintext: SecretStr | None = None
    openai_api_base: str = DEFAULT_OPENAI_API_BASE
    openai_api_version: str | None = None
    openai_deployment_name: str | None = None
    openai_organization: str | None = None
    microsoft_entra_tenant_id: str | None = None
    microsoft_entra_client_id: str | None = None
    microsoft_entra_client_secret: str | None = None
    microsoft_entra_client_secret_plaintext: SecretStr | None = None

    @field_validator("openai_api_type", mode="before")
    @classmethod
    def _lower_type(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    def _issues(self) -> Issues:
        api_type = self.openai_api_type
        entra_fields = ("microsoft_entra_tenant_id", "microsoft_entra_client_id")
        entra_given = [f for f in entra_fields if getattr(self, f) is not None]
        secret_given = self._given("microsoft_entra_client_secret")
        entra_given += [secret_given] if secret_given else []
        issues = self._pair("microsoft_entra_client_secret", required=False)
        if api_type != "azuread":
            issues += [
                (
                    f,
                    f"only used when openai_api_type is 'azuread' (Microsoft Entra ID): set "
                    f"openai_api_type to 'azuread' or remove {f}",
                )
                for f in entra_given
            ]
            when = f" when openai_api_type is {api_type!r}"
            issues += self._pair("openai_api_key", required=True, when=when)
            if api_type == "azure":
                issues += self._azure_issues(when)
            return issues
        when = " when openai_api_type is 'azuread'"
        issues += self._azure_issues(when)
        key = self._given("openai_api_key")
        issues += self._pair("openai_api_key", required=False)
        if key and entra_given:
            issues.append(
                (
                    key,
                    f"give either {key} (used as an Entra ID bearer token) or the "
                    f"Microsoft Entra ID fields ({', '.join(entra_given)}), not both",
                )
            )
        elif not key:
            all_entra = (*entra_fields, "microsoft_entra_client_secret")
            issues += [
                (
                    f,
                    f"required{when} and no openai_api_key is given: set "
                    "microsoft_entra_tenant_id, microsoft_entra_client_id and "
                    "microsoft_entra_client_secret (or _plaintext) for Entra ID client "
                    "credentials, or give openai_api_key as a bearer token",
                )
                for f in all_entra
                if (self._given(f) if f in self.secret_fields else getattr(self, f)) is None
            ]
        return issues

    def _azure_issues(self, when: str) -> Issues:
        issues: Issues = []
        if "openai_api_base" not in self.model_fields_set or (
            self.openai_api_base == DEFAULT_OPENAI_API_BASE
        ):
            issues.append(
                (
                    "openai_api_base",
                    f"required{when}: set it to your Azure OpenAI "
                    "resource URL, e.g. "
                    "'https://<resource>.openai.azure.com'",
                )
            )
        if self.openai_api_version is None:
            issues.append(
                (
                    "openai_api_version",
                    f"required{when}: set it to the Azure OpenAI API version, e.g. '2024-10-21'",
                )
            )
        if self.openai_deployment_name is None:
            issues.append(
                (
                    "openai_deployment_name",
                    f"required{when}: set it to the name of your Azure OpenAI deployment",
                )
            )
        return issues

    @property
    def base_url(self) -> str:
        """``openai_api_base`` (default ``https://api.openai.com/v1``)."""
        return self.openai_api_base


class AnthropicConfig(_ProviderConfig):
    """``anthropic_config``. ``anthropic_api_base`` is our addition (proxies, tests)."""

    secret_fields: ClassVar[tuple[str, ...]] = ("anthropic_api_key",)
    url_fields: ClassVar[tuple[str, ...]] = ("anthropic_api_base",)
    local_fields: ClassVar[dict[str, str]] = {"anthropic_api_base": _LOCAL_BASE}

    anthropic_api_key: str | None = None
    anthropic_api_key_plaintext: SecretStr | None = None
    anthropic_api_base: str = DEFAULT_ANTHROPIC_API_BASE

    @property
    def base_url(self) -> str:
        """``anthropic_api_base`` (default ``https://api.anthropic.com``)."""
        return self.anthropic_api_base


class CohereConfig(_ProviderConfig):
    """``cohere_config``."""

    secret_fields: ClassVar[tuple[str, ...]] = ("cohere_api_key",)
    url_fields: ClassVar[tuple[str, ...]] = ("cohere_api_base",)

    cohere_api_key: str | None = None
    cohere_api_key_plaintext: SecretStr | None = None
    cohere_api_base: str = DEFAULT_COHERE_API_BASE

    @property
    def base_url(self) -> str:
        """``cohere_api_base`` (default ``https://api.cohere.com``)."""
        return self.cohere_api_base


class AmazonBedrockConfig(_ProviderConfig):
    """``amazon_bedrock_config``.

    The access-key pair may be omitted entirely (then the default AWS credential chain is used
    at call time, which also covers ``instance_profile_arn`` on AWS hosts) but not half-given.
    ``aws_session_token`` (for temporary credentials) and ``bedrock_api_base`` are our
    additions, not part of the Databricks API.
    """

    secret_fields: ClassVar[tuple[str, ...]] = (
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    )
    url_fields: ClassVar[tuple[str, ...]] = ("bedrock_api_base",)
    local_fields: ClassVar[dict[str, str]] = {
        "bedrock_api_base": _LOCAL_BASE,
        "aws_session_token": _LOCAL_SESSION,
        "aws_session_token_plaintext": _LOCAL_SESSION,
    }

    aws_region: str = Field(min_length=1)
    bedrock_provider: Literal["anthropic", "cohere", "ai21labs", "amazon"]
    aws_access_key_id: str | None = None
    aws_access_key_id_plaintext: SecretStr | None = None
    aws_secret_access_key: str | None = None
    aws_secret_access_key_plaintext: SecretStr | None = None
    aws_session_token: str | None = None
    aws_session_token_plaintext: SecretStr | None = None
    instance_profile_arn: str | None = None
    bedrock_api_base: str | None = None

    @field_validator("bedrock_provider", mode="before")
    @classmethod
    def _lower_provider(cls, value: Any) -> Any:
        # Databricks documents these values as case-insensitive ("Anthropic", "AI21Labs").
        return value.lower() if isinstance(value, str) else value

    def _issues(self) -> Issues:
        issues = [i for name in self.secret_fields for i in self._pair(name, required=False)]
        key_id, secret = self._given("aws_access_key_id"), self._given("aws_secret_access_key")
        if bool(key_id) != bool(secret):
            missing, other = (
                ("aws_secret_access_key", key_id) if key_id else ("aws_access_key_id", secret)
            )
            issues.append(
                (
                    missing,
                    f"required when {other} is given: give both AWS keys, or "
                    "neither to use the default AWS credential chain",
                )
            )
        if self._given("aws_session_token") and not (key_id and secret):
            issues.append(
                (
                    "aws_session_token",
                    "only used together with aws_access_key_id and "
                    "aws_secret_access_key: add them or remove it",
                )
            )
        if self.instance_profile_arn is not None and (key_id or secret):
            issues.append(
                (
                    "instance_profile_arn",
                    "give either instance_profile_arn or AWS access keys, not both",
                )
            )
        return issues

    @property
    def base_url(self) -> str:
        """``bedrock_api_base``, else ``https://bedrock-runtime.<aws_region>.amazonaws.com``."""
        return self.bedrock_api_base or f"https://bedrock-runtime.{self.aws_region}.amazonaws.com"


class Ai21LabsConfig(_ProviderConfig):
    """``ai21labs_config``. ``ai21labs_api_base`` is our addition (proxies, tests)."""

    secret_fields: ClassVar[tuple[str, ...]] = ("ai21labs_api_key",)
    url_fields: ClassVar[tuple[str, ...]] = ("ai21labs_api_base",)
    local_fields: ClassVar[dict[str, str]] = {"ai21labs_api_base": _LOCAL_BASE}

    ai21labs_api_key: str | None = None
    ai21labs_api_key_plaintext: SecretStr | None = None
    ai21labs_api_base: str = DEFAULT_AI21LABS_API_BASE

    @property
    def base_url(self) -> str:
        """``ai21labs_api_base`` (default ``https://api.ai21.com/studio/v1``)."""
        return self.ai21labs_api_base


class GoogleCloudVertexAiConfig(_ProviderConfig):
    """``google_cloud_vertex_ai_config``; ``private_key`` is the service-account JSON key.

    ``vertex_api_base`` is our addition (proxies, tests).
    """

    secret_fields: ClassVar[tuple[str, ...]] = ("private_key",)
    url_fields: ClassVar[tuple[str, ...]] = ("vertex_api_base",)
    local_fields: ClassVar[dict[str, str]] = {"vertex_api_base": _LOCAL_BASE}

    project_id: str = Field(min_length=1)
    region: str = Field(min_length=1)
    private_key: str | None = None
    private_key_plaintext: SecretStr | None = None
    vertex_api_base: str | None = None

    @property
    def base_url(self) -> str:
        """``vertex_api_base``, else ``https://<region>-aiplatform.googleapis.com`` (the global
        location has no region prefix)."""
        if self.vertex_api_base:
            return self.vertex_api_base
        prefix = "" if self.region == "global" else f"{self.region}-"
        return f"https://{prefix}aiplatform.googleapis.com"


class DatabricksModelServingConfig(_ProviderConfig):
    """``databricks_model_serving_config``: a serving endpoint in another workspace."""

    secret_fields: ClassVar[tuple[str, ...]] = ("databricks_api_token",)
    url_fields: ClassVar[tuple[str, ...]] = ("databricks_workspace_url",)

    databricks_workspace_url: str
    databricks_api_token: str | None = None
    databricks_api_token_plaintext: SecretStr | None = None

    def _issues(self) -> Issues:
        # Without a token a local run signs in to the workspace the way the Databricks CLI
        # does; deploy_needs() says a served endpoint still needs one.
        return self._pair("databricks_api_token", required=False)

    def deploy_needs(self) -> list[str]:
        """``databricks_api_token`` when neither it nor its plaintext twin is given."""
        if self._given("databricks_api_token") is not None:
            return []
        return [
            "databricks_api_token: not set, so local runs sign in to databricks_workspace_url "
            "through the workspace sign-in (host/token, DATABRICKS_* env vars, a "
            "~/.databrickscfg profile, a service principal), but a served endpoint requires "
            f"it: set databricks_api_token to a secret reference {REFERENCE_FORMAT} (or "
            "databricks_api_token_plaintext to the value) before creating the endpoint"
        ]

    @property
    def base_url(self) -> str:
        """``databricks_workspace_url``."""
        return self.databricks_workspace_url


ProviderConfig = (
    OpenAiConfig
    | AnthropicConfig
    | CohereConfig
    | AmazonBedrockConfig
    | Ai21LabsConfig
    | GoogleCloudVertexAiConfig
    | DatabricksModelServingConfig
)


def check_deployable(
    configs: Iterable[tuple[str, ProviderConfig]], where: str, *, strict: bool
) -> None:
    """Say once, for all ``(path, config)`` of one body, what a real endpoint would refuse:
    local-only fields it holds and fields only a local run can do without. A
    :class:`NotDeployableWarning`, or with ``strict`` a :class:`ConfigurationError`."""
    configs = list(configs)
    extra = [f"{path}.{line}" for path, config in configs for line in config.local_only()]
    needs = [f"{path}.{line}" for path, config in configs for line in config.deploy_needs()]
    if not extra and not needs:
        return
    it = "it" if len(extra) == 1 else "them"
    fix = f"remove {it} before creating the endpoint (for local runs {it} may stay)"
    if len(extra) + len(needs) == 1:
        text = message(where, [f"{extra[0]}: {fix}"] if extra else needs)
    else:
        text = message(where, extra + needs)
        if extra:
            fields = "the field of ours" if len(extra) == 1 else "the fields of ours"
            text += f"\nRemove {fields} before creating the endpoint (local runs may keep {it})."
    if strict:
        raise ConfigurationError(text)
    warn_user(text.replace("Invalid ", "Not deployable: ", 1), NotDeployableWarning)
