"""One exported 16px DCGAN shared by the serving tests."""

import pytest

from tests.export.export_helpers import TRAINING_INFO, build_dcgan


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """(model, EXPORTS/dcgan model dir, version dir) exported once for the session."""
    from export import export_model

    model = build_dcgan(16, 1, seed=2)
    version_dir = export_model(model, tmp_path_factory.mktemp("served"), training_info=TRAINING_INFO)
    return model, version_dir.parent, version_dir
