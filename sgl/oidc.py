"""An agency's own identity provider: OpenID Connect access tokens (signed JWTs) verified
against the provider's published keys (JWKS), their claims mapped to agency, role and person.

Only asymmetric signatures are accepted (never `none`, never a shared secret), and the issuer,
audience and expiry must all be present and right.
"""

from __future__ import annotations

from typing import Any, cast

import jwt
import structlog

from ledger.settings import Settings
from sgl.identity import ROLES, Caller, Role

log = structlog.get_logger("sgl.oidc")

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
# How long the provider's keys are kept before fetched again (a new key id fetches at once).
KEYS_LIFESPAN_SECONDS = 300
FETCH_TIMEOUT_SECONDS = 5
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
        agency_claim: str = "sgl_agency",
        role_claim: str = "sgl_role",
        person_claim: str = "sgl_person",
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._claims = (agency_claim, role_claim, person_claim)
        self._keys = jwt.PyJWKClient(
            jwks_url, lifespan=KEYS_LIFESPAN_SECONDS, timeout=FETCH_TIMEOUT_SECONDS
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
            agency_claim=settings.oidc_agency_claim,
            role_claim=settings.oidc_role_claim,
            person_claim=settings.oidc_person_claim,
        )

    def verify(self, token: str) -> Caller | None:
        """The caller a provider's access token stands for, or None when it is not valid
        (the reason is logged, the token never)."""
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
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
        return self._caller(claims)

    def _caller(self, claims: dict[str, Any]) -> Caller | None:
        """The caller the claims name, or None when they name no agency or no known role."""
        agency_claim, role_claim, person_claim = self._claims
        agency, role, person = (
            claims.get(agency_claim),
            claims.get(role_claim),
            claims.get(person_claim),
        )
        subject = str(claims["sub"])
        if not isinstance(agency, str) or not agency or role not in ROLES:
            log.info("oidc.refused", reason="claims", subject=subject)
            return None
        return Caller(
            subject,
            agency,
            cast(Role, role),
            person if isinstance(person, str) else None,
            via="oidc",
        )
