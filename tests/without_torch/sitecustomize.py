"""Make the ``learn`` extra unimportable: put this folder first on PYTHONPATH.

Used by tests/test_without_torch.py and .ci/run to prove that schedlab's core, baselines,
checker, report and command line work, and that the test suite collects, without torch.
"""

import sys

BLOCKED = ("torch", "transformers", "peft", "safetensors")


class _Blocked:
    """A meta-path finder that refuses the blocked packages as if they were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: testing without torch)", name=name)
        return None


sys.meta_path.insert(0, _Blocked())
