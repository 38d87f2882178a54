"""Hypothesis profiles: ``ci`` (derandomised, fixed examples; the default) and ``dev``
(random, quick; for hunting new counterexamples).

The suite is deterministic unless asked otherwise: ``ci`` is loaded by default, so a plain
``pytest`` (as ``.ci/run`` runs it) draws the same examples on every machine. Pick the random
profile by hand with ``HYPOTHESIS_PROFILE=dev pytest`` or ``pytest --hypothesis-profile=dev``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=60, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
