"""``python -m schedlab.cli``."""

from schedlab.cli import main

main()
