"""Files shipped beside the package in the project tree (installed editable, also in the container image)."""
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
ASTERISK_TEMPLATES = PROJECT_DIR / "asterisk"
DIALPLANS = PROJECT_DIR / "dialplans"
WEB = PROJECT_DIR / "web"
