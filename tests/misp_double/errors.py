"""The error a handler raises to answer with a MISP-style JSON error (``{name, message, url}``)."""

from __future__ import annotations


class HttpError(Exception):
    def __init__(self, status: int, name: str, message: str | None = None) -> None:
        super().__init__(name)
        self.status = status
        self.name = name
        self.message = message or name
