"""Fixtures shared by the instruction tests."""

from __future__ import annotations

import pytest

from tests.instruct.helpers import records_from_samples


@pytest.fixture(scope="session")
def sample_records(tmp_path_factory) -> list[dict]:
    return records_from_samples(tmp_path_factory.mktemp("records"))
