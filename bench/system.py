"""The real system as the integration tests run it (tests/integration/harness.py), for a benchmark: a temporary data
directory with the demo company, the suite's own preparation, Asterisk from the sid root and `leadcenter run`, both
stopped however the benchmark ends."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

INTEGRATION = Path(__file__).resolve().parent.parent / "tests" / "integration"


def integration_helpers() -> None:
    """Make the integration tests' helpers (harness, sipp) importable."""
    if str(INTEGRATION) not in sys.path:
        sys.path.insert(0, str(INTEGRATION))


@contextlib.contextmanager
def demo_system(prepare: Callable[[Any], Any]) -> Iterator[tuple[Any, Path, Any]]:
    """(the system, its data directory, what ``prepare(system)`` returned: it runs on the seeded demo before the
    start)."""
    integration_helpers()
    from harness import System

    with tempfile.TemporaryDirectory(prefix="lc-bench-") as data:
        system = System(Path(data))
        system.cli("demo")
        prepared = prepare(system)
        system.start_asterisk()
        try:
            system.start_controller()
            yield system, Path(data), prepared
        finally:
            system.stop_controller()
            system.stop_asterisk()
