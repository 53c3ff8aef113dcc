"""Reports of runs: figures (:mod:`schedlab.report.plots`) and the HTML page (:mod:`schedlab.report.html`).

Importing this package loads nothing heavy; matplotlib loads with :mod:`schedlab.report.plots`.
"""
