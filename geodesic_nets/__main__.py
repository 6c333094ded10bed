"""``python -m geodesic_nets`` runs the ``geodesic-nets`` command (also what torchrun starts)."""

import sys

from .cli import main

sys.exit(main())
