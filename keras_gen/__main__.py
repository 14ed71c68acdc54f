import sys

from keras_gen.cli import main

sys.exit(main())
