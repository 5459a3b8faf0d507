"""The one exception for a request the server will not run, carrying what the client is told."""

from __future__ import annotations


class Refused(Exception):
    """A request refused before (or instead of) reaching the engine; ``str()`` is one sentence.

    Becomes an OpenAI-shaped error body: ``{"error": {"message", "type", "param", "code"}}`` with
    ``status`` as the HTTP status.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code
        self.kind = kind

    def body(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"message": str(self), "type": self.kind, "param": self.param, "code": self.code}}
