"""The OpenAPI security schemes of the API, and the requirement its operations declare.

The credentials flowport.core.credentials accepts, as OpenAPI can describe them: an API key in `X-API-Key`,
the same key as a bearer token, or a user name and password as Basic. The other header forms it takes
(`X-Authorization`, `token`, `user` + `password`) are for clients of other workflow APIs and are named in
the README only. `/openapi.json` declares no requirement: it stays public.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import SecurityScheme

API_KEY, BEARER, BASIC = "apiKey", "bearer", "basic"


def security_schemes() -> dict[str, SecurityScheme]:
    """Built only for the OpenAPI document: Powertools' OpenAPI models take some 140 ms to import, which
    every function's cold start would pay otherwise."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBase, HTTPBearer

    return {
        API_KEY: APIKey(name="X-API-Key", in_=APIKeyIn.header, description="A flowport API key (`fpk_...`)"),
        BEARER: HTTPBearer(bearerFormat="fpk_", description="The same API key, as `Authorization: Bearer`"),
        BASIC: HTTPBase(scheme="basic", description="A principal's user name and password"),
    }


# Alternatives: any one of them authenticates. A start's workflow narrows them (its `auth`), which the
# start operations say in their descriptions: OpenAPI has no way to make a requirement depend on a path.
ANY_CREDENTIAL: list[dict[str, list[str]]] = [{API_KEY: []}, {BEARER: []}, {BASIC: []}]
START_AUTH_NOTE = (
    " Which credentials a start takes is the workflow's `auth` setting: `apiKey` (X-API-Key or Bearer; "
    "the default), `basic`, both, or `none` for a start without credentials."
)
