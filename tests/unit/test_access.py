"""The authorization step's parts: the rate limiter's buckets, the purposes, the route rules
and the access settings."""

from __future__ import annotations

import re

import pytest

from ledger.errors import SettingsError
from ledger.settings import Settings
from sgl.access_rules import CASE, PUBLIC, PUBLISH, RULES, MissingRules, check_covered
from sgl.authorize import RateLimiter, purposes_of
from sgl.identity import DEFAULT_PURPOSES


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_spends_its_burst_then_refills_at_the_rate() -> None:
    """Three at once, then the wait until the next; refilled at two a second, never above
    the burst; each key has its own bucket."""
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0.0
    clock.now += 0.5
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now += 3600
    assert [limiter.take("a") for _ in range(4)][-1] == pytest.approx(0.5)


def test_purposes_come_from_the_settings_or_the_defaults() -> None:
    """SGL_PURPOSES, comma-separated, replaces the default list."""
    assert purposes_of(Settings.from_env({})) == DEFAULT_PURPOSES
    named = Settings.from_env({"SGL_PURPOSES": "serious-case-review, inspection"})
    assert purposes_of(named) == ("serious-case-review", "inspection")


def test_who_states_a_purpose_where() -> None:
    """Inquiry and auditor state one wherever they may call, except on public routes;
    a route they may not call takes none."""
    assert CASE.needs_purpose("inquiry") and CASE.needs_purpose("auditor")
    assert not CASE.needs_purpose("practitioner")
    assert CASE.takes_purpose() and not PUBLISH.takes_purpose()
    assert not PUBLIC.takes_purpose() and not PUBLIC.needs_purpose("auditor")


def test_routes_without_a_rule_are_named() -> None:
    """check_covered names every uncovered route, and passes the covered ones."""
    check_covered(list(RULES))
    with pytest.raises(MissingRules, match=re.escape("DELETE /v1/cases/{case_id}, GET /v1/new")):
        check_covered([("GET", "/healthz"), ("GET", "/v1/new"), ("DELETE", "/v1/cases/{case_id}")])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SGL_RATE_LIMIT": "0"}, "SGL_RATE_LIMIT must be a number of requests per second"),
        ({"SGL_RATE_LIMIT": "fast"}, "SGL_RATE_LIMIT must be a number, not 'fast'"),
        ({"SGL_RATE_BURST": "0"}, "SGL_RATE_BURST must be at least 1"),
        ({"SGL_PURPOSES": "audit,Just Curious"}, "not 'Just Curious'"),
        ({"SGL_ADMIN_TOKEN": "short"}, "SGL_ADMIN_TOKEN must be at least 32 characters"),
        (
            {"SGL_OIDC_ISSUER": "https://idp.example"},
            "missing SGL_OIDC_AUDIENCE, SGL_OIDC_JWKS_URL",
        ),
        (
            {
                "SGL_OIDC_ISSUER": "https://idp.example",
                "SGL_OIDC_AUDIENCE": "ledger",
                "SGL_OIDC_JWKS_URL": "http://idp.example/jwks",
            },
            "SGL_OIDC_JWKS_URL must be an https:// address",
        ),
    ],
)
def test_access_settings_that_cannot_work_are_refused(env: dict[str, str], message: str) -> None:
    """A clear error naming the variable, at start."""
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_the_admin_token_never_appears_in_a_repr() -> None:
    """Settings are logged and printed; the operator's token is not in them."""
    secret = "s" * 40
    settings = Settings.from_env({"SGL_ADMIN_TOKEN": secret, "SGL_RATE_LIMIT": "2.5"})
    assert settings.admin_token == secret and settings.rate_limit == 2.5
    assert secret not in repr(settings)
