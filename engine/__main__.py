"""`python -m engine`: the kmo-rules command line."""
import sys

from .cli import main

sys.exit(main())
