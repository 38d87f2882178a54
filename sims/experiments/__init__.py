"""Experiments as data: sweep cells and TOML specs (:mod:`.cells`), the sizes a scenario
runs at (:mod:`.sizes`), the resumable checksummed results store (:mod:`.store`) and the
sweep runner over any executor (:mod:`.sweep`).
"""

from .cells import Cell, SpecError, cell_seeds, grid, load_spec
from .store import CorruptCell, Store
from .sweeps import sweep

__all__ = ["Cell", "SpecError", "cell_seeds", "grid", "load_spec", "CorruptCell", "Store",
           "sweep"]
