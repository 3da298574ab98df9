import pytest

from ympa.forecast import SupportingData, load_schedule_set, load_supporting_data


@pytest.fixture(scope="session")
def data() -> SupportingData:
    return load_supporting_data()


@pytest.fixture(scope="session")
def se() -> SupportingData:
    """The Swedish schedule set with its default regional choices."""
    return load_schedule_set("se")
