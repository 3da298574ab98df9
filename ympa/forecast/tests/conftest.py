import pytest

from ympa.forecast import SupportingData, load_supporting_data


@pytest.fixture(scope="session")
def data() -> SupportingData:
    return load_supporting_data()
