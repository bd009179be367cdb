"""`python -m hephaestus.cli ...` runs `hmc`."""

from hephaestus.cli.app import main

main()
