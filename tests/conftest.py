"""Hypothesis profiles: ``dev`` (random, quick) and ``ci`` (derandomised, fixed examples).

CI (``CI`` set in the environment) uses ``ci``; pick one by hand with
``pytest --hypothesis-profile=dev``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=60, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))
