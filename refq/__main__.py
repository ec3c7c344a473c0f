import sys

from refq.cli import main

sys.exit(main())
