"""`python -m baichuan_tui`."""

from baichuan_tui.cli import main

raise SystemExit(main())
