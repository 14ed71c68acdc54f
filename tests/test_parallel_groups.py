"""`make test` runs the suite on two xdist workers with `--dist loadgroup`, and each expensive
shared fixture (a harness model's trained runs and export, a trained model of a test module) is
built once because the tests sharing it are one group on one worker (tests/conftest.py). Nothing
fails when grouping silently stops (pytest 9.2 with pytest-xdist 3.8 dropped the group from the
node ids, pytest-xdist#1386): every shared fixture is then built on both workers, and the suite
takes minutes longer. These tests catch that."""

import re
import subprocess
import sys

from xdist.scheduler.loadgroup import LoadGroupScheduling

from tests.conftest import group_name


def test_group_names_of_parametrized_tests_are_read_as_groups():
    """A group named after a parametrized fixture key keeps no "]", which would hide the group."""
    for key in ("runs-wgan_gp", "runs[wgan_gp]", "tests/test_translate_cli.py::trained"):
        nodeid = f"tests/test_model_harness.py::test_export_parity_on_every_endpoint[wgan_gp]@{group_name(key)}"
        assert LoadGroupScheduling._split_scope(None, nodeid) == group_name(key)


def test_grouped_tests_run_on_one_worker(tmp_path):
    """Six parametrized tests of one group, two workers: all six on the same worker."""
    (tmp_path / "test_grouped.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.xdist_group('runs-x')\n"
        "@pytest.mark.parametrize('i', range(6))\n"
        "def test_grouped(i):\n"
        "    pass\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v",
                           "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    workers = re.findall(r"\[(gw\d)\].*PASSED .*test_grouped\[\d\]", proc.stdout)
    assert len(workers) == 6 and len(set(workers)) == 1, proc.stdout[-2000:]
