"""A small, realistic demo catalogue built with pymarc (no files, no network)."""

from __future__ import annotations

import pymarc
from django.db import transaction

from .actions import add_to_set, create_bib
from .models import Bib, BibSet, ExportTag

DEMO_SET = "Initial publish to OCLC"

# (title, remainder of title, author heading, dates, language)
CLASSICS = [
    ("Pride and prejudice", "", "Austen, Jane", "1775-1817", "eng"),
    ("Emma", "", "Austen, Jane", "1775-1817", "eng"),
    ("Persuasion", "", "Austen, Jane", "1775-1817", "eng"),
    ("Moby-Dick, or, The whale", "", "Melville, Herman", "1819-1891", "eng"),
    ("Middlemarch", "a study of provincial life", "Eliot, George", "1819-1880", "eng"),
    ("Bleak house", "", "Dickens, Charles", "1812-1870", "eng"),
    ("Great expectations", "", "Dickens, Charles", "1812-1870", "eng"),
    ("David Copperfield", "", "Dickens, Charles", "1812-1870", "eng"),
    ("Jane Eyre", "an autobiography", "Brontë, Charlotte", "1816-1855", "eng"),
    ("Wuthering Heights", "", "Brontë, Emily", "1818-1848", "eng"),
    (
        "Frankenstein, or, The modern Prometheus",
        "",
        "Shelley, Mary Wollstonecraft",
        "1797-1851",
        "eng",
    ),
    ("Dracula", "", "Stoker, Bram", "1847-1912", "eng"),
    ("The scarlet letter", "a romance", "Hawthorne, Nathaniel", "1804-1864", "eng"),
    ("Adventures of Huckleberry Finn", "", "Twain, Mark", "1835-1910", "eng"),
    ("The portrait of a lady", "", "James, Henry", "1843-1916", "eng"),
    ("The age of innocence", "", "Wharton, Edith", "1862-1937", "eng"),
    ("The great Gatsby", "", "Fitzgerald, F. Scott", "1896-1940", "eng"),
    ("Ulysses", "", "Joyce, James", "1882-1941", "eng"),
    ("Mrs. Dalloway", "", "Woolf, Virginia", "1882-1941", "eng"),
    ("To the lighthouse", "", "Woolf, Virginia", "1882-1941", "eng"),
    ("Heart of darkness", "", "Conrad, Joseph", "1857-1924", "eng"),
    ("Nostromo", "a tale of the seaboard", "Conrad, Joseph", "1857-1924", "eng"),
    ("Tess of the d'Urbervilles", "a pure woman", "Hardy, Thomas", "1840-1928", "eng"),
    ("Far from the madding crowd", "", "Hardy, Thomas", "1840-1928", "eng"),
    ("The picture of Dorian Gray", "", "Wilde, Oscar", "1854-1900", "eng"),
    ("Vanity fair", "a novel without a hero", "Thackeray, William Makepeace", "1811-1863", "eng"),
    ("Madame Bovary", "mœurs de province", "Flaubert, Gustave", "1821-1880", "fre"),
    ("Les misérables", "", "Hugo, Victor", "1802-1885", "fre"),
    ("Le rouge et le noir", "chronique du XIXe siècle", "Stendhal", "1783-1842", "fre"),
    ("Germinal", "", "Zola, Émile", "1840-1902", "fre"),
    ("Père Goriot", "", "Balzac, Honoré de", "1799-1850", "fre"),
    ("Don Quijote de la Mancha", "", "Cervantes Saavedra, Miguel de", "1547-1616", "spa"),
    ("Cien años de soledad", "", "García Márquez, Gabriel", "1927-2014", "spa"),
    ("Die Verwandlung", "", "Kafka, Franz", "1883-1924", "ger"),
    ("Der Zauberberg", "Roman", "Mann, Thomas", "1875-1955", "ger"),
    ("Faust", "eine Tragödie", "Goethe, Johann Wolfgang von", "1749-1832", "ger"),
    ("Anna Karenina", "", "Tolstoy, Leo, graf", "1828-1910", "eng"),
    ("War and peace", "", "Tolstoy, Leo, graf", "1828-1910", "eng"),
    ("Crime and punishment", "", "Dostoyevsky, Fyodor", "1821-1881", "eng"),
    ("The brothers Karamazov", "", "Dostoyevsky, Fyodor", "1821-1881", "eng"),
    ("Dead souls", "", "Gogol, Nikolai Vasilievich", "1809-1852", "eng"),
    ("The divine comedy", "", "Dante Alighieri", "1265-1321", "eng"),
    ("The Odyssey", "", "Homer", "", "eng"),
    ("The Iliad", "", "Homer", "", "eng"),
    ("Walden, or, Life in the woods", "", "Thoreau, Henry David", "1817-1862", "eng"),
    ("Leaves of grass", "", "Whitman, Walt", "1819-1892", "eng"),
    (
        "On the origin of species by means of natural selection",
        "",
        "Darwin, Charles",
        "1809-1882",
        "eng",
    ),
    ("The wealth of nations", "", "Smith, Adam", "1723-1790", "eng"),
    ("Things fall apart", "", "Achebe, Chinua", "1930-2013", "eng"),
    ("Beloved", "a novel", "Morrison, Toni", "1931-2019", "eng"),
]
PUBLISHERS = [
    ("London", "Penguin Books", 1985),
    ("New York", "Modern Library", 1992),
    ("Oxford", "Oxford University Press", 1998),
    ("New York", "Vintage Books", 2004),
]
LIBRARIES = [("MAIN", "STACKS"), ("SCIENCE", "GENERAL")]


def _record(index: int, edition: int) -> pymarc.Record:
    title, remainder, author, dates, lang = CLASSICS[index]
    place, publisher, year = PUBLISHERS[edition]
    year += index % 7
    n = index * len(PUBLISHERS) + edition
    record = pymarc.Record(force_utf8=True)
    record.leader = pymarc.Leader("00000cam a2200000 i 4500")
    record.add_field(
        pymarc.Field(tag="001", data=f"demo{n:05d}"),
        pymarc.Field(tag="003", data="ALMADEMO"),
        pymarc.Field(
            tag="008", data=f"{year % 100:02d}0101s{year}    xxu           000 1 {lang} d"
        ),
    )
    if n % 13 != 5:  # a few records have no OCLC number yet
        ocn = 12_000_000 + n * 7919
        prefix = "ocm" if ocn < 100_000_000 else "ocn"
        record.add_field(
            pymarc.Field(
                tag="035",
                indicators=pymarc.Indicators(" ", " "),
                subfields=[pymarc.Subfield("a", f"(OCoLC){prefix}{ocn:08d}")],
            )
        )
    record.add_field(
        pymarc.Field(
            tag="040",
            indicators=pymarc.Indicators(" ", " "),
            subfields=[
                pymarc.Subfield("a", "DLC"),
                pymarc.Subfield("b", "eng"),
                pymarc.Subfield("c", "DLC"),
            ],
        )
    )
    heading = [pymarc.Subfield("a", f"{author},")]
    if dates:
        heading.append(pymarc.Subfield("d", f"{dates}."))
    record.add_field(
        pymarc.Field(tag="100", indicators=pymarc.Indicators("1", " "), subfields=heading)
    )
    title_subfields = [pymarc.Subfield("a", f"{title} :" if remainder else f"{title} /")]
    if remainder:
        title_subfields.append(pymarc.Subfield("b", f"{remainder} /"))
    first_last = " ".join(reversed(author.split(", ", 1))) if ", " in author else author
    title_subfields.append(pymarc.Subfield("c", f"{first_last}."))
    record.add_field(
        pymarc.Field(tag="245", indicators=pymarc.Indicators("1", "0"), subfields=title_subfields),
        pymarc.Field(
            tag="264",
            indicators=pymarc.Indicators(" ", "1"),
            subfields=[
                pymarc.Subfield("a", f"{place} :"),
                pymarc.Subfield("b", f"{publisher},"),
                pymarc.Subfield("c", f"{year}."),
            ],
        ),
        pymarc.Field(
            tag="300",
            indicators=pymarc.Indicators(" ", " "),
            subfields=[
                pymarc.Subfield("a", f"{180 + (n * 37) % 600} pages ;"),
                pymarc.Subfield("c", "21 cm"),
            ],
        ),
    )
    return record


def _tag(n: int) -> str:
    if n % 10 == 3:
        return ExportTag.DONT_PUBLISH
    if n % 20 == 7:
        return ExportTag.HOLDINGS_ONLY
    return ExportTag.PUBLISH_BIB


def _holdings(n: int) -> list[tuple[str, str, str]]:
    if n % 17 == 11:
        return []  # a few bibs without holdings
    call = f"PR{4000 + n} .A{n % 9 + 1} {1980 + n % 40}"
    found = [(*LIBRARIES[n % 2], call)]
    if n % 5 == 0:
        found.append((*LIBRARIES[(n + 1) % 2], call))
    return found


@transaction.atomic
def load_demo_catalogue() -> tuple[int, bool]:
    """Create the demo bibs and the set once; returns (number of bibs, created now?)."""
    if BibSet.objects.filter(name=DEMO_SET).exists():
        return Bib.objects.count(), False
    bibs = []
    for index in range(len(CLASSICS)):
        for edition in range(len(PUBLISHERS)):
            n = index * len(PUBLISHERS) + edition
            bibs.append(
                create_bib(_record(index, edition), export_tag=_tag(n), holdings=_holdings(n))
            )
    demo_set = BibSet.objects.create(
        name=DEMO_SET,
        description="Records for the first file sent to the Data Sync collection (Step 5).",
    )
    add_to_set(demo_set, bibs[::4])
    return len(bibs), True
