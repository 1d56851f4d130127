"""The book's notebook cache: real papermill runs of tiny notebooks in a scratch repository."""

from pathlib import Path

from tenset_study.book.cache import notebook_key, run_notebooks

HEADER = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

'''
FIRST = HEADER + '''# %% tags=["parameters"]
value = 1
# %%
from pathlib import Path
Path("results").mkdir(exist_ok=True)
Path("results/first.txt").write_text(str(value))
print("first wrote", value)
'''
SECOND = HEADER + '''# %%
from pathlib import Path
print("second read", Path("results/first.txt").read_text())
'''


def _repo(tmp_path: Path) -> tuple[Path, list[Path]]:
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    (repo / "data").mkdir()
    (repo / "data" / "table.txt").write_text("v1")
    sources = [repo / "notebooks" / "01_first.py", repo / "notebooks" / "02_second.py"]
    sources[0].write_text(FIRST)
    sources[1].write_text(SECOND)
    return repo, sources


def test_an_unchanged_build_comes_from_the_cache_with_the_files_it_wrote(tmp_path: Path) -> None:
    repo, sources = _repo(tmp_path)
    cache, out = repo / "_build" / "cache", repo / "_build" / "notebooks"
    first = run_notebooks(sources, out, {"value": 7}, cache=cache, repo=repo, log=lambda _: None)
    assert [r.cached for r in first] == [False, False]
    assert "second read 7" in (out / "02_second.ipynb").read_text()
    (repo / "results" / "first.txt").unlink()
    for run in first:
        run.output.unlink()
    again = run_notebooks(sources, out, {"value": 7}, cache=cache, repo=repo, log=lambda _: None)
    assert [r.cached for r in again] == [True, True] and [r.key for r in again] == [r.key for r in first]
    assert (repo / "results" / "first.txt").read_text() == "7", "the result file the notebook wrote is restored"
    assert "second read 7" in (out / "02_second.ipynb").read_text()
    sources[1].write_text(SECOND + "print('changed')\n")
    third = run_notebooks(sources, out, {"value": 7}, cache=cache, repo=repo, log=lambda _: None)
    assert [r.cached for r in third] == [True, False], "only the changed notebook runs"


def test_the_key_follows_every_input(tmp_path: Path) -> None:
    repo, sources = _repo(tmp_path)
    base = notebook_key(sources[1], {"value": 1}, repo, ["k1"])
    from tenset_study.book.cache import inputs_fingerprint, package_fingerprint

    assert notebook_key(sources[1], {"value": 1}, repo, ["k1"], package_fingerprint(repo),
                        inputs_fingerprint(repo, {"value": 1})) == base, "fingerprints given or computed agree"
    assert notebook_key(sources[1], {"value": 1}, repo, ["k1"]) == base
    assert notebook_key(sources[1], {"value": 2}, repo, ["k1"]) != base
    assert notebook_key(sources[1], {"value": 1}, repo, ["k2"]) != base, "an earlier notebook changed"
    features = repo / "data" / ".cache" / "features"
    features.mkdir(parents=True)
    (features / "perstore.npy").write_text("written by the first build")
    assert notebook_key(sources[1], {"value": 1}, repo, ["k1"]) == base, "a feature cache is not an input"
    (repo / "data" / "table.txt").write_text("v2")
    assert notebook_key(sources[1], {"value": 1}, repo, ["k1"]) != base, "the committed data changed"
    mine = repo / "elsewhere"
    mine.mkdir()
    (mine / "part.parquet").write_text("a")
    with_mine = notebook_key(sources[1], {"dataset": "elsewhere"}, repo)
    (mine / "part.parquet").write_text("ab")
    assert notebook_key(sources[1], {"dataset": "elsewhere"}, repo) != with_mine, "the reader's dataset changed"
