"""An agency's own identity provider: OpenID Connect access tokens (signed JWTs) verified
against the provider's published keys (JWKS), their claims mapped to agency, role and person.

Only asymmetric signatures are accepted (never `none`, never a shared secret), the issuer,
audience and expiry must all be present and right, and the token must be typed as an access
token (RFC 9068 `at+jwt`). A provider speaks only for the agencies and roles it is configured
to grant, and never for the ledger itself.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

import jwt
import structlog

from ledger.agency_rules import LEDGER_AGENCY
from ledger.errors import SettingsError
from ledger.settings import Settings
from sgl.identity import ROLES, Caller, Role

log = structlog.get_logger("sgl.oidc")

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
# How long the provider's keys are kept before fetched again (a new key id fetches at once).
KEYS_LIFESPAN_SECONDS = 300
FETCH_TIMEOUT_SECONDS = 5
# An unknown key id fetches the keys again at most once in this long (anyone can send one).
REFRESH_SECONDS = 60
# The RFC 9068 access-token type (a media type: case-insensitive, `application/` optional).
AT_JWT_TYPE = "at+jwt"
# The clocks of the provider and of the ledger may disagree by this much.
LEEWAY_SECONDS = 30


class OidcVerifier:
    """Verifies one provider's access tokens."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str,
        *,
        agencies: Collection[str],
        roles: Collection[str] = ("publisher", "practitioner"),
        agency_claim: str = "sgl_agency",
        role_claim: str = "sgl_role",
        person_claim: str = "sgl_person",
        accept_untyped: bool = False,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        unknown = sorted(set(roles) - set(ROLES))
        if unknown or not roles:
            raise SettingsError(
                f"SGL_OIDC_ROLES must name roles among {', '.join(ROLES)}, "
                f"not {', '.join(unknown) or 'none'}"
            )
        if not agencies or not all(agencies):
            raise SettingsError("SGL_OIDC_AGENCIES must name at least one agency id")
        if LEDGER_AGENCY in agencies:
            raise SettingsError(
                f"SGL_OIDC_AGENCIES may not name the ledger itself ({LEDGER_AGENCY})"
            )
        self._issuer = issuer
        self._audience = audience
        self._agencies = frozenset(agencies)
        self._roles = frozenset(roles)
        self._claims = (agency_claim, role_claim, person_claim)
        self._accept_untyped = accept_untyped
        self._keys = jwt.PyJWKClient(
            jwks_url,
            lifespan=KEYS_LIFESPAN_SECONDS,
            timeout=FETCH_TIMEOUT_SECONDS,
            cooldown_duration=refresh_seconds,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcVerifier | None:
        """The configured provider's verifier, or None when SGL_OIDC_ISSUER is unset."""
        if not settings.oidc_issuer:
            return None
        return cls(
            settings.oidc_issuer,
            settings.oidc_audience,
            settings.oidc_jwks_url,
            agencies=_names(settings.oidc_agencies),
            roles=_names(settings.oidc_roles),
            agency_claim=settings.oidc_agency_claim,
            role_claim=settings.oidc_role_claim,
            person_claim=settings.oidc_person_claim,
            accept_untyped=settings.oidc_accept_untyped,
        )

    def verify(self, token: str) -> Caller | None:
        """The caller a provider's access token stands for, or None when it is not valid
        (the reason is logged, the token never)."""
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            decoded = jwt.decode_complete(
                token,
                key.key,
                algorithms=list(ALGORITHMS),
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientConnectionError as exc:
            log.error("oidc.keys_unreachable", error=str(exc))
            return None
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            log.info("oidc.refused", reason=type(exc).__name__)
            return None
        claims: dict[str, Any] = decoded["payload"]
        if not self._is_access_token(decoded["header"].get("typ")):
            log.info("oidc.refused", reason="not an access token", subject=str(claims["sub"]))
            return None
        return self._caller(claims)

    def _is_access_token(self, typ: object) -> bool:
        """Whether the header's `typ` marks an access token (or, when untyped tokens are
        accepted, marks nothing more specific than a JWT)."""
        if not isinstance(typ, str):
            return typ is None and self._accept_untyped
        kind = typ.lower().removeprefix("application/")
        return kind == AT_JWT_TYPE or (self._accept_untyped and kind == "jwt")

    def _caller(self, claims: dict[str, Any]) -> Caller | None:
        """The caller the claims name, or None when they name an agency or a role this
        provider may not grant."""
        agency_claim, role_claim, person_claim = self._claims
        agency, role, person = (
            claims.get(agency_claim),
            claims.get(role_claim),
            claims.get(person_claim),
        )
        subject = str(claims["sub"])
        if not isinstance(agency, str) or agency not in self._agencies or agency == LEDGER_AGENCY:
            log.info("oidc.refused", reason="agency not granted", subject=subject)
            return None
        if not isinstance(role, str) or role not in self._roles:
            log.info("oidc.refused", reason="role not granted", subject=subject)
            return None
        return Caller(
            subject,
            agency,
            cast(Role, role),
            person if isinstance(person, str) else None,
            via="oidc",
        )


def _names(text: str) -> list[str]:
    """The comma-separated names of a setting, blanks dropped."""
    return [name.strip() for name in text.split(",") if name.strip()]
