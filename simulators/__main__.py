"""``python -m simulators`` runs ``hse-sim``."""

import sys

from .cli import main

sys.exit(main())
