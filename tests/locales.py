"""Environments whose output encoding is not UTF-8, for child processes: a Latin-1 locale and the C locale.

The Latin-1 locale is an installed one if `locale -a` lists one, else one compiled with `localedef` into a
folder of the test's own (found through LOCPATH), and only where neither works PYTHONIOENCODING=latin-1 under
the C locale. Python's UTF-8 mode is off in both (PYTHONUTF8=0), so stdout and stderr take the locale's encoding.
"""

from __future__ import annotations

import codecs
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import child_env

LATIN1_NAMES = ("en_US.ISO-8859-1", "en_US.iso88591", "de_DE.ISO-8859-1", "fr_FR.ISO-8859-1")


def locale_env(**extra: str) -> dict[str, str]:
    """`child_env` with every locale setting and PYTHONIOENCODING taken out, UTF-8 mode off, then `extra`."""
    env = child_env()
    for name in [k for k in env if k == "LANG" or k.startswith("LC_") or k in ("LANGUAGE", "PYTHONIOENCODING",
                                                                                 "LOCPATH", "PYTHONUTF8")]:
        env.pop(name)
    env["PYTHONUTF8"] = "0"
    env.update(extra)
    return env


def c_locale_env(**extra: str) -> dict[str, str]:
    """The C locale: Python writes ASCII."""
    return locale_env(LC_ALL="C", **extra)


def latin1_env(folder: Path, **extra: str) -> dict[str, str]:
    """A Latin-1 locale (see the module docstring); `folder` holds one compiled here when none is installed."""
    listed = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split() \
        if shutil.which("locale") else []
    for name in listed:
        if name.lower().replace("-", "").endswith((".iso88591", ".latin1")):
            return locale_env(LC_ALL=name, **extra)
    if shutil.which("localedef"):
        folder.mkdir(parents=True, exist_ok=True)
        for name in LATIN1_NAMES[:1]:
            done = subprocess.run(["localedef", "-i", name.split(".")[0], "-f", "ISO-8859-1", str(folder / name)],
                                  capture_output=True)
            if (folder / name).is_dir() or done.returncode == 0:
                return locale_env(LC_ALL=name, LOCPATH=str(folder), **extra)
    return locale_env(LC_ALL="C", PYTHONIOENCODING="latin-1", **extra)


def stdout_encoding(env: dict[str, str]) -> str:
    """The codec name of Python's stdout in `env` (so a test checks it runs where it means to)."""
    out = subprocess.run([sys.executable, "-c", "import sys; print(sys.stdout.encoding)"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    return codecs.lookup(out).name
