"""Settings files in a folder this user cannot enter are skipped, never an error."""

import os

from runyard.reading import patterns


def test_config_file_in_a_closed_folder_is_skipped(tmp_path, monkeypatch):
    closed = tmp_path / "home"
    (closed / ".config" / "runyard").mkdir(parents=True)
    (closed / ".config" / "runyard" / "runyard.toml").write_text("[metrics]\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(closed / ".config"))
    real_stat = os.stat

    def stat(path, *args, **kwargs):  # what a folder without +x gives a user who is not root
        if str(path).startswith(str(closed)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    assert patterns.config_files(tmp_path) == []
    monkeypatch.setattr(os, "stat", real_stat)
    assert patterns.config_files(tmp_path) == [closed / ".config" / "runyard" / "runyard.toml"]
