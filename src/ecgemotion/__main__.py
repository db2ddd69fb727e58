import sys

from ecgemotion.cli import main

sys.exit(main())
