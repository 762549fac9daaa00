"""`python -m riverbed.testing [riverbed arguments]`: the riverbed CLI with the fake encoder."""

from riverbed.cli import main as riverbed
from riverbed.testing.encoder import install

install()
riverbed(prog_name="riverbed")
