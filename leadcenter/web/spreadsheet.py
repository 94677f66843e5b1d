"""CSV downloads (report.csv, each report series as CSV): streamed in chunks, every cell safe to open in a
spreadsheet."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

from flask import Response, stream_with_context

# A cell that begins like a formula gets a leading apostrophe, so a spreadsheet opening the report shows it instead
# of running it (CSV injection). Every column: names, notes and tags are typed by people, but an SMS sender
# (lead_number) can be any word the phone network passes, and attribution comes from the web. Only a whole E.164
# number keeps its '+': a spreadsheet reads it as a number, and an importer gets the number as stored.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
E164 = re.compile(r"\+[0-9]{1,15}")
CHUNK = 64 * 1024


def cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) and not E164.fullmatch(value) else value


def download(header: Sequence[str], rows: Iterable[Sequence[str]], filename: str) -> Response:
    """A CSV attachment of ``header`` and ``rows`` (strings), written as the rows come (a big export is never whole
    in memory)."""

    def chunks():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in rows:
            writer.writerow([cell(value) for value in row])
            if buffer.tell() >= CHUNK:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(chunks()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
