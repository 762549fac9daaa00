"""Dedupe and the embedding cache, through real ingests with the real model."""

from __future__ import annotations

from pathlib import Path

from index import Index
from pipeline import ingest
from riverbed.settings import Settings
from tests.conftest import CNN

ARTICLE = CNN.read_text()

# Three paragraphs of distinct content, each over half of a 200-token chunk budget, so that each
# becomes a chunk of its own wherever it appears.
PARAGRAPH_CHUNKS = {"chunk_tokens": 200}
RIVERS = (
    "The Danube flows through ten countries, more than any other river in the world. It rises "
    "in the Black Forest of Germany and runs east for nearly three thousand kilometres, passing "
    "through four capital cities: Vienna, Bratislava, Budapest and Belgrade. Its delta on the "
    "Black Sea is one of the largest wetlands in Europe, home to hundreds of bird species and "
    "a refuge for pelicans, herons and cormorants. For centuries the river was a frontier of "
    "the Roman Empire and later a highway for trade between the Habsburg lands and the Ottoman "
    "world, carrying grain, salt and timber downstream on flat-bottomed barges."
)
VOLCANOES = (
    "Iceland sits on the Mid-Atlantic Ridge, where the North American and Eurasian plates pull "
    "apart by about two centimetres each year. The island has around thirty active volcanic "
    "systems, and an eruption somewhere on it occurs every few years on average. In 2010 the "
    "ash cloud from Eyjafjallajokull closed much of European airspace for six days, stranding "
    "millions of travellers. Geothermal energy from the same heat heats nearly nine in ten "
    "Icelandic homes, and the country generates almost all of its electricity from hydropower "
    "and geothermal plants, which makes its grid one of the cleanest in the world."
)
BEES = (
    "Honeybees communicate the location of flowers with a waggle dance performed on the "
    "vertical comb inside the hive. The angle of the dance relative to gravity encodes the "
    "direction of the food source relative to the sun, and the duration of the waggle run "
    "encodes its distance. A colony in summer may hold fifty thousand workers, a single queen "
    "and a few hundred drones. Workers live for about six weeks in the busy season, spending "
    "their first days cleaning cells and feeding larvae before they graduate to guarding the "
    "entrance and finally to foraging for nectar and pollen across the surrounding meadows."
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_exact_copy_is_recorded_not_embedded_and_listed_as_also_in(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    original = write(tmp_path, "original.txt", ARTICLE)
    copy = write(tmp_path, "copy.txt", ARTICLE + "\n\n")  # same text once cleaned
    first = ingest([original], settings=settings)
    second = ingest([copy], settings=settings)
    assert second.duplicates == 1 and second.added == 0
    assert second.tokens_embedded == 0 and second.chunks == 0
    with Index.open(settings=settings) as index:
        stats = index.stats()
        assert stats["documents"] == 1 and stats["duplicates"] == 1
        assert stats["chunks"] == first.chunks
        top = index.search("what did Zelensky ask of NATO", k=1)[0]
    assert top.source == str(original.resolve())
    assert str(copy.resolve()) in top.also_in


def test_near_copy_is_recorded_as_near_duplicate(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    original = write(tmp_path, "original.txt", ARTICLE)
    edited = ARTICLE.replace("Tuesday", "Wednesday", 1).replace("strong message", "clear message")
    near = write(tmp_path, "near.txt", edited)
    other = write(tmp_path, "other.txt", RIVERS)
    report = ingest([original, near, other], settings=settings)
    assert report.near_duplicates == 1 and report.duplicates == 0
    assert report.added == 2  # the original and the unrelated document
    with Index.open(settings=settings) as index:
        assert index.document(str(near.resolve()))["duplicate_of"] == str(original.resolve())
        assert index.document(str(other.resolve()))["duplicate_of"] is None


def test_near_duplicate_threshold_is_a_setting(tmp_path: Path) -> None:
    paragraphs = ARTICLE.split("\n\n")
    shortened = "\n\n".join(paragraphs[: len(paragraphs) * 2 // 3])  # Jaccard about 0.6
    original = write(tmp_path, "original.txt", ARTICLE)
    near = write(tmp_path, "near.txt", shortened)
    strict = ingest([original, near], settings=Settings(data_dir=tmp_path / "strict"))
    assert strict.near_duplicates == 0 and strict.added == 2
    loose = Settings(data_dir=tmp_path / "loose", near_duplicate_threshold=0.4)
    assert ingest([original, near], settings=loose).near_duplicates == 1


def test_equal_passages_share_one_vector_and_keep_every_source(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", **PARAGRAPH_CHUNKS)
    first = write(tmp_path, "first.txt", f"{RIVERS}\n\n{VOLCANOES}")
    second = write(tmp_path, "second.txt", f"{BEES}\n\n{VOLCANOES}")
    report = ingest([first, second], settings=settings)
    assert report.added == 2 and report.chunks == 4
    with Index.open(settings=settings) as index:
        stats = index.stats()
        assert stats["chunks"] == 4 and stats["passages"] == 3
        top = index.search("how much of Iceland's heating is geothermal", k=1)[0]
    assert "Geothermal energy" in top.text
    assert {top.source, *top.also_in} == {str(first.resolve()), str(second.resolve())}


def test_unchanged_passages_are_never_embedded_twice(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", **PARAGRAPH_CHUNKS)
    document = write(tmp_path, "doc.txt", f"{RIVERS}\n\n{VOLCANOES}")
    first = ingest([document], settings=settings)
    assert first.tokens_embedded > 0
    document.write_text(f"{RIVERS}\n\n{BEES}")  # one paragraph kept, one replaced
    second = ingest([document], settings=settings)
    assert second.updated == 1
    assert 0 < second.tokens_embedded < first.tokens_embedded
