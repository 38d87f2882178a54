"""Output fit for a post: figures (:mod:`.figures`), gridworld rendering (:mod:`.render`)
and the results folder with its tables, ``summary.csv`` and ``report.md``
(:mod:`.report`).
"""
