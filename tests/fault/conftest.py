"""Fixtures of the fault suite: the integration tests' Instance and sinks
(tests/integration/conftest.py), loaded under another module name so that
both folders can keep a conftest.py."""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(HERE, "..", "integration")
sys.path.insert(0, HERE)
sys.path.insert(0, INTEGRATION)

_spec = importlib.util.spec_from_file_location("itconf", os.path.join(INTEGRATION, "conftest.py"))
itconf = importlib.util.module_from_spec(_spec)
sys.modules["itconf"] = itconf
_spec.loader.exec_module(itconf)

instance = itconf.instance
sink = itconf.sink

import pytest  # noqa: E402


@pytest.fixture
def cleanup():
    """Instances a test made itself (faultlib.fresh_instance): stopped and
    removed at the end."""
    made = []
    yield made
    for inst in made:
        inst.stop()
        if not os.environ.get("SLUICE_KEEP_TEST_DIRS"):
            import shutil
            shutil.rmtree(inst.base, ignore_errors=True)
