"""Files shipped beside the package in the project tree (installed editable, also in the container image)."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
ASTERISK_TEMPLATES = PROJECT_DIR / "asterisk"
DIALPLANS = PROJECT_DIR / "dialplans"
# The SIP edge's routing script, filled from [kamailio] (leadcenter/kamailio.py).
KAMAILIO_TEMPLATE = PROJECT_DIR / "kamailio" / "kamailio.cfg"
# Prompts we ship (the spoken recording notice: espeak-ng en-us, converted to 8 kHz mono 16-bit WAV by sox).
SOUNDS = ASTERISK_TEMPLATES / "sounds"
WEB = PROJECT_DIR / "web"
