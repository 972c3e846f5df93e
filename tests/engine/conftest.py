"""The engine's tests share one flow: flows/ as the deployment ships it, loaded once per module."""

from __future__ import annotations

import pytest

from tipline.engine import load_flow

from ..engine_support import FLOWS


@pytest.fixture(scope="module")
def flow():
    return load_flow(FLOWS)
