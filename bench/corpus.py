"""Deterministic, newsroom-like text: titles, authors and multi-paragraph Markdown bodies.

The words are ordinary English, drawn with a skewed (Zipf-like) frequency so that gzip sees
text about as compressible as real copy; no two articles share a body. Everything comes from
a seeded random.Random, so the same seed gives the same corpus on every machine.
"""

from __future__ import annotations

import random
from itertools import accumulate

_WORDS_TEXT = """
the of and to in a is that for it as was with be by on not he this are or his from at which
but have an they you were her she there been one all we their has would when if so no will
more what up out about who some them than into could then other its time these two may first
only new years over also after most made now people many government minister city officials
said says report country week year market council plan police court state company percent
million billion workers health school children water energy prices election vote party leader
president policy public support project research study data evidence team season match league
coach players fans club stadium final record results growth economy bank rates inflation
budget spending tax business trade exports industry jobs pay strike union talks deal agreement
region border security forces army peace crisis aid refugees families homes village town
streets traffic transport rail station airport flights weather storm flooding rain heat summer
winter climate emissions coal solar wind power grid network internet phone software users
online service system technology science scientists university students teachers hospital
doctors patients care treatment virus cases vaccine drug hospitals nurses local national
international european global regional federal hundreds thousands dozens several early late
later earlier recent major small large long short high low open closed under before while
because although however since during between against without across around through despite
according expected announced confirmed warned described called asked told added denied
promised agreed rejected approved launched opened reached raised cut rose fell increased
dropped returned remained continued began ended started stopped moved left found showed
question answer issue problem change decision statement letter interview meeting conference
committee board members residents community neighbours visitors tourists owners customers
museum festival concert film book author artist music theatre gallery exhibition award prize
morning evening night weekend monday tuesday wednesday thursday friday saturday sunday
january february march april may june july august september october november december
"""
_WORDS = _WORDS_TEXT.split()

_NAMES_TEXT = """Ada Amara Bruno Chen Dara Elena Farid Greta Hugo Ines Jonas Kaito Lena Marco
Nadia Omar Petra Quentin Rosa Samir Tara Ulrich Vera Wen Xavier Yara Zoltan"""
_SURNAMES_TEXT = """Abara Berg Costa Dubois Eriksen Fischer Garcia Haddad Ivanova Jensen Kowalski
Lindqvist Moreau Novak Okafor Patel Quinn Rossi Santos Tanaka Ueda Varga Weber Yilmaz Zhou"""
_NAMES = _NAMES_TEXT.split()
_SURNAMES = _SURNAMES_TEXT.split()

# Zipf-like weights: a few words dominate, as in real text.
_CUM_WEIGHTS = list(accumulate(1.0 / (rank + 2) for rank in range(len(_WORDS))))


class Corpus:
    """A seeded generator of article fields."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def words(self, n: int) -> list[str]:
        return self.rng.choices(_WORDS, cum_weights=_CUM_WEIGHTS, k=n)

    def sentence(self) -> str:
        words = self.words(self.rng.randint(9, 24))
        if len(words) > 12 and self.rng.random() < 0.5:
            words[self.rng.randint(4, len(words) - 5)] += ","
        text = " ".join(words)
        return text[0].upper() + text[1:] + self.rng.choice(".....?")

    def paragraph(self, sentences: int) -> str:
        parts = [self.sentence() for _ in range(sentences)]
        if self.rng.random() < 0.3:  # a link, as copy often has
            i = self.rng.randrange(len(parts))
            slug = "-".join(self.words(3))
            parts[i] += f" [Read the {self.words(1)[0]} report](https://example.org/{slug})."
        if self.rng.random() < 0.2:  # a quotation with typographic marks
            parts.append(f"“{self.sentence()}” said {self.author()}.")
        return " ".join(parts)

    def body(self, paragraphs: int, sentences: int = 5) -> str:
        """Markdown: paragraphs separated by blank lines, now and then a subheading."""
        out = []
        for i in range(paragraphs):
            if i and i % 3 == 0 and self.rng.random() < 0.5:
                out.append("## " + self.title(4))
            out.append(self.paragraph(sentences))
        return "\n\n".join(out)

    def title(self, n: int | None = None) -> str:
        text = " ".join(self.words(n or self.rng.randint(6, 11)))
        return text[0].upper() + text[1:]

    def author(self) -> str:
        return f"{self.rng.choice(_NAMES)} {self.rng.choice(_SURNAMES)}"
