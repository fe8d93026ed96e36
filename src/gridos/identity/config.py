"""Identity settings from the environment (GRIDOS_OIDC_*, GRIDOS_SESSION_*, GRIDOS_AUTH_*), the `identity`
section of gridos.config.Settings. OIDC is off while GRIDOS_OIDC_ISSUER is empty: then only API keys and the
static bootstrap tokens (GRIDOS_API_TOKENS) authenticate."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridos.roles import Role

# Asymmetric algorithms only: `none` and the HMAC family (which would let anyone holding the public key
# forge tokens) are never accepted, whatever a token's header says.
DEFAULT_ALGORITHMS = "RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512"
_REFUSED_ALGORITHMS = {"none", "HS256", "HS384", "HS512"}


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDOS_", extra="ignore")

    oidc_issuer: str = Field(default="", description="OIDC issuer URL; empty disables sign-in and JWTs")
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = Field(
        default=SecretStr(""), description="confidential client secret; empty: public client (PKCE only)"
    )
    oidc_client_assertion_file: str = Field(
        default="",
        description="file holding a JWT client assertion (AKS workload identity: AZURE_FEDERATED_TOKEN_FILE); "
        "used instead of a client secret, re-read at every sign-in",
    )
    oidc_audience: str = Field(default="", description="`aud` of bearer access tokens; default: client id")
    oidc_resource: str = Field(default="", description="resource indicator (RFC 8707) sent at sign-in")
    oidc_scopes: str = "openid profile email"
    oidc_redirect_url: str = Field(
        default="", description="absolute /auth/callback URL; default: derived from the request"
    )
    oidc_role_claim: str = Field(default="roles", description="claim holding app roles or groups")
    oidc_role_map: str = Field(
        default="",
        description="claim value=role,... (e.g. an Entra group id=operator); empty: values named like roles",
    )
    oidc_subject_claim: str = Field(default="sub", description="stable id of a person (Entra: oid)")
    oidc_name_claim: str = Field(
        default="preferred_username", description="display name (falls back to name)"
    )
    oidc_leeway_seconds: float = Field(default=60.0, ge=0, le=600, description="clock skew for exp/nbf/iat")
    oidc_jwks_ttl_seconds: float = Field(default=3600.0, gt=0, description="cache of the provider's keys")
    oidc_algorithms: str = DEFAULT_ALGORITHMS
    oidc_http_timeout_seconds: float = Field(default=5.0, gt=0)

    session_idle_seconds: float = Field(default=1800.0, gt=0, description="sign-out after this inactivity")
    session_absolute_seconds: float = Field(default=12 * 3600.0, gt=0, description="sign-out after this")
    session_cookie_secure: bool = Field(default=True, description="false only for plain-HTTP development")

    auth_production: bool = Field(
        default=False, description="production mode: static GRIDOS_API_TOKENS log a warning when used"
    )
    auth_max_failures: int = Field(default=10, ge=1, description="failed authentications per window ...")
    auth_failure_window_seconds: float = Field(default=60.0, gt=0, description="... per client and per key")
    auth_key_cache_seconds: float = Field(
        default=5.0, ge=0, description="how long a replica trusts its cached copy of an API key"
    )
    auth_rotation_overlap_seconds: float = Field(
        default=86400.0, ge=0, description="default time both keys work after a rotation"
    )

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: str) -> str:
        algs = [a.strip() for a in value.split(",") if a.strip()]
        refused = sorted(set(algs) & _REFUSED_ALGORITHMS)
        if refused or not algs:
            raise ValueError(f"GRIDOS_OIDC_ALGORITHMS: only asymmetric algorithms are allowed, not {refused}")
        return ",".join(algs)

    @field_validator("oidc_role_map")
    @classmethod
    def _roles_exist(cls, value: str) -> str:
        for entry in filter(None, (e.strip() for e in value.split(","))):
            claim, sep, role = entry.rpartition("=")
            if not sep or not claim or role.strip() not in Role.__members__:
                raise ValueError(
                    f"GRIDOS_OIDC_ROLE_MAP: {entry!r} is not claim-value=role (role: {list(Role)})"
                )
        return value

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def algorithms(self) -> list[str]:
        return self.oidc_algorithms.split(",")

    @property
    def audience(self) -> str:
        return self.oidc_audience or self.oidc_client_id

    @property
    def role_map(self) -> dict[str, Role]:
        """claim value -> role. Without a map, a claim value equal to a role name grants that role."""
        if not self.oidc_role_map.strip():
            return {r.value: r for r in Role}
        result: dict[str, Role] = {}
        for entry in filter(None, (e.strip() for e in self.oidc_role_map.split(","))):
            claim, _, role = entry.rpartition("=")
            result[claim.strip()] = Role(role.strip())
        return result
