import pytest

from dpo.files import atomic_folder, atomic_write, write_text


def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path):
    target = write_text(tmp_path / "sub" / "a.json", "old")

    def half_then_crash(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_then_crash)
    assert target.read_text() == "old" and sorted(p.name for p in target.parent.iterdir()) == ["a.json"]
    write_text(target, "new")
    assert target.read_text() == "new"


def test_atomic_folder_replaces_whole_folder_or_nothing(tmp_path):
    folder = tmp_path / "ckpt"
    with atomic_folder(folder) as tmp:
        (tmp / "x").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_folder(folder) as tmp:
            (tmp / "y").write_text("2")
            raise RuntimeError
    assert sorted(p.name for p in folder.iterdir()) == ["x"] and sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    with atomic_folder(folder) as tmp:
        (tmp / "y").write_text("2")
    assert sorted(p.name for p in folder.iterdir()) == ["y"]  # the old folder is replaced, not merged
