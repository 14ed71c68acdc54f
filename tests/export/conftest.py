"""Exported DCGANs shared by the export tests (one conversion per configuration per session)."""

import pytest
from tests.export.export_helpers import TRAINING_INFO, build_dcgan


@pytest.fixture(scope="session")
def dcgan16():
    return build_dcgan(16, 1)


@pytest.fixture(scope="session")
def export16(dcgan16, tmp_path_factory):
    """(model, exports root, version dir) for a 16px grayscale DCGAN exported once."""
    from export import export_model

    root = tmp_path_factory.mktemp("exports16")
    version_dir = export_model(dcgan16, root, training_info=TRAINING_INFO)
    return dcgan16, root, version_dir


@pytest.fixture(scope="session")
def export32rgb(tmp_path_factory):
    """(model, exports root, version dir) for a 32px RGB DCGAN exported once, named 'rgb'."""
    from export import export_model

    model = build_dcgan(32, 3, seed=1)
    root = tmp_path_factory.mktemp("exports32")
    version_dir = export_model(model, root, name="rgb", training_info=TRAINING_INFO)
    return model, root, version_dir
