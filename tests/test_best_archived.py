"""A checkpoint of a run archived compressed is ranked where it lies (inside the `.tar.zst`), never as the cache's
hollow extraction, and gets no link: there is nothing on disk to point at until the run is restored."""

from __future__ import annotations

import runyard

from .test_archived_listing import compress, private_cache, trained  # noqa: F401 (a fixture)


def test_archived_checkpoint_ranked_inside_its_archive_and_not_linked(tmp_path):
    root = tmp_path / "runs"
    packed = trained(root, "packed")
    loose = trained(root, "loose")
    (loose / "checkpoints" / "step_30.pt").unlink()  # leaves loose with no checkpoint file: only packed's counts
    tar, _ = compress(root, packed)

    ranking = runyard.checkpoint_ranking(list(runyard.scan(root)), "val/loss")
    assert [e.run for e in ranking.ranked] == ["packed"]
    entry = ranking.ranked[0]
    assert entry.path == tar / "checkpoints" / "step_30.pt"
    assert entry.value == 2.0 and entry.step == 30
    assert runyard.in_archive(entry.path) == tar
    assert "restore" in (entry.checkpoint.note or "")

    links = tmp_path / "links"
    assert runyard.link_ranking(ranking.ranked, links) == []
    assert not any(p.is_symlink() for p in links.iterdir())
