"""Use case: the authorizer's decision: who a request comes from, and every route that caller may call.

Its answers are cached in the container for `auth_cache_seconds` by the credential's hash (never the
secret): a cached caller costs no DynamoDB read and no scrypt run, and a revoked or expired key keeps
working for at most that long. API Gateway's own authorizer cache stays off (template.yaml says why),
so this is the one cache, the same on AWS and locally.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flowport.core import credentials
from flowport.core.credentials import ApiKey, Password, Presented
from flowport.core.errors import Unauthorized
from flowport.core.identity import Caller, anonymous_caller
from flowport.core.policy import START_ROUTES, Policy, accepts, policy_for
from flowport.core.ports import CredentialLookup
from flowport.core.registry import Registry, Workflow

MAX_CACHED_CALLERS = 1000  # bounds the container's memory however many credentials it sees
_START_RESOURCES = frozenset(path for _, path in START_ROUTES)
_REFUSED = "The credentials are not valid (unknown, expired or revoked)"


@dataclass(frozen=True)
class AuthRequest:
    """The parts of a request the decision reads."""

    headers: Mapping[str, str]
    resource: str  # the route's path as the template names it: /workflows/{name}/executions
    path_parameters: Mapping[str, str]


@dataclass(frozen=True)
class Decision:
    caller: Caller
    policy: Policy


class Authorize:
    def __init__(
        self,
        lookup: CredentialLookup,
        registry: Registry,
        cache_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._lookup = lookup
        self._registry = registry
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._cache: OrderedDict[str, tuple[float, Caller]] = OrderedDict()

    def decide(self, request: AuthRequest) -> Decision:
        """The caller and its whole policy; Unauthorized (401) for missing or invalid credentials, or
        credentials of a kind the requested workflow's start does not take."""
        target = self._start_target(request)
        presented = credentials.presented(request.headers)
        if presented is None:
            if target is not None and target.public:
                caller = anonymous_caller()
                return Decision(caller, policy_for(caller, self._registry))
            raise Unauthorized(
                "This route needs credentials: an API key (X-API-Key or Authorization: Bearer) or a "
                "user name and password (Authorization: Basic)",
                challenge=credentials.challenge(target.auth) if target else "",
            )
        caller = self._caller(presented)
        if target is not None and not accepts(target, caller.mode):
            raise Unauthorized(
                f"Workflow '{target.name}' is started with {' or '.join(target.auth)} credentials",
                challenge=credentials.challenge(target.auth),
            )
        return Decision(caller, policy_for(caller, self._registry))

    def _start_target(self, request: AuthRequest) -> Workflow | None:
        if request.resource not in _START_RESOURCES:
            return None
        return self._registry.get(request.path_parameters.get("name", ""))

    def _caller(self, presented: Presented) -> Caller:
        cache_key = presented.cache_key()
        now = self._monotonic()
        cached = self._cache.get(cache_key)
        if cached is not None and cached[0] > now:
            self._cache.move_to_end(cache_key)
            return cached[1]
        caller = self._authenticated(presented)
        self._cache[cache_key] = (now + self._cache_seconds, caller)
        self._cache.move_to_end(cache_key)
        while len(self._cache) > MAX_CACHED_CALLERS:
            self._cache.popitem(last=False)
        return caller

    def _authenticated(self, presented: Presented) -> Caller:
        """One GetItem whatever the credential: a wrong key, and a key of ours with a wrong secret, take
        the same path (the lookup is by the hash of the whole key), and an unknown user name costs the
        same scrypt run as a known one with a wrong password."""
        if isinstance(presented, ApiKey):
            # Not even of our keys' form: nothing to look up (which says nothing of the keys that exist).
            ours = credentials.looks_like_a_key(presented.secret)
            found = self._lookup.api_key(credentials.key_hash(presented.secret)) if ours else None
            valid = found is not None
        else:
            assert isinstance(presented, Password)
            found = self._lookup.user(presented.username)
            valid = credentials.verify_password(presented.password, found.password_hash if found else None)
        if found is None or not valid or found.expired(self._wall_clock()):
            raise Unauthorized(_REFUSED)
        return found.caller()
