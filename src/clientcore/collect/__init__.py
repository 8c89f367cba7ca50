"""Getting events in: write keys, the shared ingest step, file importers, the event log's books.

Exceptions::

    CollectError            a request or file we cannot take; nothing of it was stored
    ├── AuthError           no write key, an unknown one, or a revoked one
    ├── PayloadError        the body as a whole is unusable (bad JSON, bad gzip, too large)
    └── ImportFileError     the file cannot be read as the format it claims
"""


class CollectError(Exception):
    """Base of the collect errors; `status` is the HTTP status the API answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class AuthError(CollectError):
    status = 401
    code = "unauthorized"


class PayloadError(CollectError):
    code = "invalid_payload"


class PayloadTooLargeError(PayloadError):
    status = 413
    code = "payload_too_large"


class ImportFileError(CollectError):
    code = "invalid_file"
