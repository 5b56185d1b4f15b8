"""Response types: orjson bodies, and RFC 9457 problem details for every error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse, Response

from ledger.errors import Problem
from sgl.encoding import dumps

MEDIA_TYPE = "application/problem+json"
# A page or file holding a child's record: never kept by a browser's or a proxy's cache, and
# its address never sent to another site.
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}


class JSONBytes(JSONResponse):
    """A JSON response encoded by orjson (a JSONResponse, so OpenAPI documents it as JSON)."""

    def render(self, content: Any) -> bytes:
        """Encode the content with orjson."""
        return dumps(content)


def problem_response(
    status: int,
    kind: str,
    title: str,
    detail: str,
    errors: Sequence[Problem] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An `application/problem+json` response; `kind` names the problem type."""
    body: dict[str, object] = {
        "type": f"urn:sgl:problem:{kind}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [p.as_dict() for p in errors]
    return Response(dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)
