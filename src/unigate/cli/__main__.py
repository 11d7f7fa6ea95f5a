"""``python -m unigate.cli``: the ``unigate`` command without the installed script."""

from unigate.cli.main import main

main()
