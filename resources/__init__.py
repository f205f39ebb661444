"""Icons, the desktop entry and the sample experiment, installed as the package ``studio.resources``."""
