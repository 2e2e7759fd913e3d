"""Domain errors. Each carries the HTTP status and stable `code` of its RFC 9457 problem document.

Routes never catch these: the API layer maps every `FlowportError` to `application/problem+json` in one
place, so a rule raises the error that names the problem and nothing else decides the response.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class FlowportError(Exception):
    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}


class BadRequest(FlowportError):
    status, code, title = 400, "bad_request", "Bad request"


class MalformedJson(BadRequest):
    code, title = "malformed_json", "Request body is not valid JSON"


class MalformedForm(BadRequest):
    code, title = "malformed_form", "Request body is not a valid form"


class InvalidParameter(BadRequest):
    code, title = "invalid_parameter", "Invalid request parameter"


class InvalidNextToken(BadRequest):
    code, title = "invalid_next_token", "Invalid page token"


class InvalidLastEventId(BadRequest):
    code, title = "invalid_last_event_id", "Invalid Last-Event-ID"


class CallbackRefused(BadRequest):
    """A callback URL flowport will not call: not https, not on the allowlist, or inside a network."""

    code, title = "callback_refused", "Callback URL refused"


class WebhookSecretMissing(BadRequest):
    code, title = "webhook_secret_missing", "No webhook secret to sign callbacks with"


class FieldNotSearchable(BadRequest):
    code, title = "field_not_searchable", "Input field is not searchable"


class Unauthorized(FlowportError):
    """No credentials, or credentials that are wrong, expired or revoked (which of these is not said)."""

    status, code, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str, challenge: str = "", **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        # RFC 9110 §11.6.1: a 401 names the schemes that would be accepted.
        self.headers["WWW-Authenticate"] = challenge or DEFAULT_CHALLENGE


# Every scheme a flowport route other than a workflow's start accepts (flowport.core.credentials).
DEFAULT_CHALLENGE = 'Bearer realm="flowport", Basic realm="flowport", charset="UTF-8"'


class Forbidden(FlowportError):
    status, code, title = 403, "forbidden", "Forbidden"


class WorkflowDisabled(Forbidden):
    code, title = "workflow_disabled", "Workflow is disabled"


class NotFound(FlowportError):
    status, code, title = 404, "not_found", "Not found"


class RouteNotFound(NotFound):
    code = "route_not_found"  # as API Gateway's own answer for a path it has no route for


class WorkflowNotFound(NotFound):
    code, title = "workflow_not_found", "Unknown workflow"


class VersionNotFound(NotFound):
    code, title = "version_not_found", "Unknown workflow version"


class ExecutionNotFound(NotFound):
    code, title = "execution_not_found", "Unknown execution"


def execution_not_found(execution_id: str) -> ExecutionNotFound:
    return ExecutionNotFound(f"No execution '{execution_id}' (unknown, or deleted after its retention)")


class ConsoleFileNotFound(NotFound):
    code, title = "console_file_not_found", "Unknown console file"


class PrincipalNotFound(NotFound):
    code, title = "principal_not_found", "Unknown principal"


class KeyNotFound(NotFound):
    code, title = "key_not_found", "Unknown API key"


class MethodNotAllowed(FlowportError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"

    def __init__(self, detail: str, allow: Sequence[str], **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        # RFC 9110: a 405 names the methods the target resource has; an empty list says it has none now.
        self.headers["Allow"] = ", ".join(allow)


class NotImplementedByFlowport(FlowportError):
    """An endpoint of an API flowport is compatible with (Conductor's) that it cannot honour."""

    status, code, title = 501, "not_implemented", "Not implemented"


class NotAcceptable(FlowportError):
    status, code, title = 406, "not_acceptable", "Not acceptable"


class Conflict(FlowportError):
    status, code, title = 409, "conflict", "Conflict"


class IdempotencyConflict(Conflict):
    code, title = "idempotency_conflict", "An execution with this idempotency key exists"


class IdempotencyKeyInFlight(Conflict):
    code, title = "idempotency_key_in_flight", "A request with this idempotency key is still being processed"


class ExecutionNotCancellable(Conflict):
    code, title = "execution_not_cancellable", "Execution has already finished"


class CancellationInProgress(Conflict):
    """Another cancel claimed the execution, and it may still read RUNNING until that cancel records it."""

    code, title = "cancellation_in_progress", "Execution is already being cancelled"


class ExecutionNotRetryable(Conflict):
    """A retry refused: the execution has not failed (or was never run by Step Functions), ended too long
    ago, or Step Functions refused to redrive it; `detail` says which."""

    code, title = "execution_not_retryable", "Execution cannot be retried"


class KeyLimitReached(Conflict):
    code, title = "key_limit_reached", "The principal holds as many keys as it may"


class UsernameTaken(Conflict):
    code, title = "username_taken", "Another principal has this user name"


class PayloadTooLarge(FlowportError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class UnsupportedMediaType(FlowportError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class UnprocessableContent(FlowportError):
    status, code, title = 422, "unprocessable_content", "Unprocessable content"


class IdempotencyKeyReused(UnprocessableContent):
    code, title = "idempotency_key_reused", "Idempotency key was used for a different request"


class InputValidationFailed(UnprocessableContent):
    code, title = "input_validation_failed", "Input does not match the workflow's schema"


class ServiceUnavailable(FlowportError):
    status, code, title = 503, "service_unavailable", "Service temporarily unavailable"

    def __init__(self, detail: str, retry_after_seconds: int = 1, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["Retry-After"] = str(retry_after_seconds)
