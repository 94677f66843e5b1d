from __future__ import annotations

from leadcenter.wire import Schema


class PromptOut(Schema):
    url: str  # GET it to listen; DELETE it to go back to the standard prompt
    seconds: float
