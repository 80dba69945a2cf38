"""The repository stands alone: no tracked file names the folder of source documents outside it (the book's copies
are under data/sources/)."""
import subprocess

from lab.paths import REPO

OUTSIDE = "../" + "shared"  # spelt in two parts, so that this file does not name it


def tracked_files_naming(text: str) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    hits = []
    for name in filter(None, listed.decode().split("\0")):
        path = REPO / name
        if path.is_file() and text.encode() in path.read_bytes():
            hits.append(name)
    return hits


def test_no_tracked_file_points_outside_the_repository():
    assert tracked_files_naming(OUTSIDE) == []


def test_the_check_finds_a_tracked_file_that_names_a_string():
    assert "README.md" in tracked_files_naming("python -m lab status")
