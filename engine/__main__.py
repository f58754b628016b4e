"""`python -m engine`: the kmo-rules command line."""
import sys

from .cli.main import main

sys.exit(main())
