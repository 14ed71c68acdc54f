"""Shared test set-up: TensorFlow backend, quiet logs, seeded randomness, small thread pools."""

import contextlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests are CPU-only and deterministic
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    # One intra-op thread per xdist worker (and its subprocesses): the workers already fill the
    # cores, and two-thread pools per worker would oversubscribe them (less CPU time, measured).
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    # The same for numpy's BLAS (read when numpy loads, below): OpenBLAS threads spin while they
    # wait, and beside a second worker a 75-point KID kernel took 6x the CPU of one thread
    # (a harness model's `evaluate` 1.6 -> 0.8 CPU-s).
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed_everything():
    import keras

    keras.utils.set_random_seed(0)
    np.random.seed(0)
    yield


def shared_session_dir(tmp_path_factory, name: str):
    """A folder of this test session shared by its xdist workers (each worker's own basetemp is a
    subfolder of the session's), so what one worker caches there the other reuses."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    path = root / name
    path.mkdir(exist_ok=True)
    return path


@contextlib.contextmanager
def workers_lock(path):
    """Held by one process of the session at a time (the other xdist worker waits)."""
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def train_cached_classifier(tmp_path_factory):
    """train_domain_classifier(source, **options) into the session's classifier cache, trained
    once for the whole session: the first worker to ask trains it, a later one loads it."""
    from keras_gen.features.classifier import train_domain_classifier

    cache_dir = shared_session_dir(tmp_path_factory, "kg_cache")

    def train(source, **options):
        with workers_lock(cache_dir / ".training"):
            model, metadata = train_domain_classifier(source, cache_dir=cache_dir, verbose=0, **options)
        return cache_dir, model, metadata

    return train


@pytest.fixture(scope="session")
def digits_classifier(train_cached_classifier):
    """(cache_dir, DomainFeatures, metadata, seconds) for a digits classifier trained once per session."""
    import time

    from keras_gen.features.classifier import load_domain_classifier

    start = time.time()
    cache_dir, _, metadata = train_cached_classifier("digits", seed=0)
    seconds = time.time() - start
    features = load_domain_classifier("digits", cache_dir=cache_dir, train_if_missing=False)
    print(f"\ndigits classifier: test accuracy {metadata['test_accuracy']:.4f}, trained or loaded in {seconds:.1f} s")
    return cache_dir, features, metadata, seconds


@pytest.fixture(scope="session")
def digits_classifier_cache(digits_classifier):
    """A cache folder holding the digits domain classifier (shared with tests/features)."""
    return digits_classifier[0]


# --- Parallel runs (pytest-xdist, `make test` runs `-n 2 --dist loadgroup`) --------------------------
# A module- or session-scoped fixture is built once per worker that runs a test needing it. So that
# an expensive one (an exported model, a trained run) is built once, not on both workers, the tests
# that share one are put in one xdist group, found here from the fixtures each test uses: no test
# file needs a marker, and a new test file with a shared fixture is grouped too. The harness's
# `runs` fixture trains one run per model: its tests are grouped per model, so models still spread
# over the workers. Cheap fixtures, and the digits classifier (the harness needs it on every worker
# anyway), group nothing. An explicit `@pytest.mark.xdist_group` wins.
UNGROUPED_FIXTURES = {"digits_classifier", "digits_classifier_cache", "train_cached_classifier", "data_flags"}


def _shared_fixture_keys(item) -> list[str]:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    keys = []
    for name in item.fixturenames:
        if name in UNGROUPED_FIXTURES:
            continue
        defs = info.name2fixturedefs.get(name)
        if not defs:
            continue
        fixturedef = defs[-1]
        source = getattr(fixturedef.func, "__code__", None)
        if fixturedef.scope == "function" or source is None or not source.co_filename.startswith(tests_dir):
            continue  # function scope, or pytest's own (tmp_path_factory, ...)
        if name == "runs" and hasattr(item, "callspec"):  # the harness: one run per model
            keys.append(f"runs-{item.callspec.params.get('name')}")
        else:
            keys.append(f"{fixturedef.baseid or 'tests'}::{name}")
    return keys


def group_name(key: str) -> str:
    """An xdist group name for a shared-fixture key. No "]": loadgroup reads `id@group` as a group
    only when the "@" comes after the id's last "]" (a parametrized id's), else it schedules each
    test alone, and the fixture is built on every worker."""
    return key.replace("/", ".").replace("::", ":").replace("[", "(").replace("]", ")")


# tryfirst: xdist's worker copies the markers into the node ids (`id@group`, what loadgroup schedules
# by) in its own pytest_collection_modifyitems, which must see them.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("xdist"):
        return
    parent: dict[str, str] = {}

    def find(key):
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    item_keys = {}
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item_keys[item] = keys = _shared_fixture_keys(item)
            for key in keys[1:]:
                parent[find(key)] = find(keys[0])
    for item, keys in item_keys.items():
        if keys:
            item.add_marker(pytest.mark.xdist_group(group_name(find(keys[0]))))


# --- CPU seconds per test (for suite-time work on a busy machine) -----------------------------------
# Wall durations (`--durations`) stretch with whatever else runs; the CPU time a test's process
# (and the child processes it waited for) spends does not. `KG_TEST_CPU_TIMES=FILE pytest ...`
# appends "seconds<TAB>phase<TAB>test id" lines (setup, call, teardown; every xdist worker to the
# same file); sort them to find the costly tests.
_CPU_TIMES = os.environ.get("KG_TEST_CPU_TIMES")
if _CPU_TIMES:
    def _cpu_seconds() -> float:  # this process and its finished children (notebook kernels, workers)
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(item):
        start = _cpu_seconds()
        yield
        _record_cpu(item, "setup", start)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(item):
        start = _cpu_seconds()
        yield
        _record_cpu(item, "call", start)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(item):
        start = _cpu_seconds()
        yield
        _record_cpu(item, "teardown", start)

    def _record_cpu(item, phase, start):
        with open(_CPU_TIMES, "a") as out:
            out.write(f"{_cpu_seconds() - start:.2f}\t{phase}\t{item.nodeid}\n")
