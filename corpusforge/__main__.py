"""`python -m corpusforge`: the same command line as the `corpusforge` script."""

from corpusforge.cli import main

if __name__ == "__main__":
    main()
