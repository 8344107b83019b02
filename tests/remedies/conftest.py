import pytest

from takedown.remedies.directory import host_directory_seed


@pytest.fixture(autouse=True)
def _directory(db: None) -> None:
    # Transactional tests flush the tables the migration seeded; put the search engines back for each test.
    host_directory_seed()
