"""The cruxes of one comment thread, and the two participants' stated numbers, as data.

Source: the comment thread under Abram Demski, "Mesa-Search vs Mesa-Control", AI Alignment
Forum (cross-posted to LessWrong), 18 August 2020,
https://www.alignmentforum.org/posts/WmBukJkEFM72Xr397/mesa-search-vs-mesa-control
(:data:`CRUX_SOURCE`). In the thread one commenter asks whether the post's update also points
towards "alignment problems will manifest in real systems well before they are powerful
enough to take over the world"; a commenter (participant **A**) lists four cruxes and gives
numbers "OTTMH"; a second commenter (participant **B**) answers them, "also making up
numbers", and A closes with "It might be worth sketching out a quantitative model here."
:mod:`mesabase.theory.cruxes` is that model.

Who the participants are: the copy of the thread checked for this module does not carry
the comment authors' names, so A and B are named by their role in the thread
(:data:`PARTICIPANTS`), not by person. Every number is attributed to the comment it came
from, with the sentence quoted verbatim (curly quotes and all) in :attr:`Estimate.quote`.

Each :class:`Estimate` holds the number as stated (``"~85%"``, ``"< 10%"``) and the exact
interval the model reads it as: ``~x%`` is the point x/100; ``~x-y%`` the interval
[x/100, y/100]; ``< x%`` the interval [0, x/100] (the participant adds "I don't have enough
information to distinguish between 0-10%"). A node a participant declines to estimate has
no interval (:attr:`Estimate.declined`); the model then shows the outcome over the node's
full range [0, 1]. Where a value is derived (a complement, or a statement read through the
model's node), :attr:`Estimate.note` says how.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

__all__ = ["CRUX_SOURCE", "CRUXES", "CRUX_NODES", "Estimate", "Participant", "PARTICIPANTS",
           "Crux", "NodeInfo", "B_REFLECTIVE_RELIABILITY"]

#: The public source: the thread, the forum and the post's author.
CRUX_SOURCE = ("comment thread on Abram Demski, \u201cMesa-Search vs Mesa-Control\u201d, AI "
               "Alignment Forum (cross-posted to LessWrong), 18 August 2020, "
               "https://www.alignmentforum.org/posts/WmBukJkEFM72Xr397/mesa-search-vs-mesa-control")


@dataclass(frozen=True)
class Crux:
    """One of the four cruxes as participant A asked it (``question``, verbatim), and the
    tree nodes (:data:`CRUX_NODES`) that model it."""

    number: int
    question: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class NodeInfo:
    """A node of the tree: the probability of ``event`` (conditional on the branch it sits
    on, :func:`mesabase.theory.cruxes.crux_tree`); ``crux`` is its crux's number."""

    name: str
    crux: int
    label: str
    event: str


@dataclass(frozen=True)
class Estimate:
    """A participant's number for one node: ``stated`` as written, read as the exact
    interval [``low``, ``high``] (a point when equal; both None when ``declined``), with the
    ``quote`` it came from and a ``note`` on any derivation. ``reading``: for a declined
    node, a value the participant's own words imply (B's definition of a fix makes every fix
    cheap enough, so 1), used only as the baseline; ranges still cover [0, 1]."""

    node: str
    stated: str
    low: Fraction | None
    high: Fraction | None
    quote: str
    note: str = ""
    reading: Fraction | None = None

    def __post_init__(self):
        if (self.low is None) != (self.high is None):
            raise ValueError(f"{self.node}: give both low and high, or neither (declined)")
        if self.low is not None:
            for v in (self.low, self.high):
                if not isinstance(v, Fraction):
                    raise ValueError(f"{self.node}: bounds must be exact Fractions; got {v!r}")
            if not 0 <= self.low <= self.high <= 1:
                raise ValueError(f"{self.node}: need 0 <= low <= high <= 1; got "
                                 f"[{self.low}, {self.high}]")
            if self.reading is not None:
                raise ValueError(f"{self.node}: a reading is for a declined node only")
        elif self.reading is not None and not (isinstance(self.reading, Fraction)
                                               and 0 <= self.reading <= 1):
            raise ValueError(f"{self.node}: the reading must be a Fraction in [0, 1]; got "
                             f"{self.reading!r}")

    @property
    def declined(self) -> bool:
        return self.low is None

    @property
    def kind(self) -> str:
        """"point", "interval" or "declined"."""
        if self.declined:
            return "declined"
        return "point" if self.low == self.high else "interval"

    @property
    def interval(self) -> tuple[Fraction, Fraction]:
        """[low, high]; a declined node's full range [0, 1]."""
        return (Fraction(0), Fraction(1)) if self.declined else (self.low, self.high)

    @property
    def baseline(self) -> Fraction:
        """The single value used where one is needed (tornado, crossover): the point, or the
        midpoint of the interval; for a declined node its ``reading`` if any, else the
        midpoint 1/2 of [0, 1], a placeholder that is not the participant's view."""
        if self.reading is not None:
            return self.reading
        lo, hi = self.interval
        return (lo + hi) / 2


@dataclass(frozen=True)
class Participant:
    """A participant: ``key`` ("A" or "B"), ``role`` in the thread, ``scope`` (the sentence
    that frames their numbers) and an :class:`Estimate` per node."""

    key: str
    role: str
    scope: str
    estimates: dict[str, Estimate] = field(default_factory=dict)


def _f(text: str) -> Fraction:
    return Fraction(text)


CRUXES = (
    Crux(1, "How hard are these problems to fix?", ("hard",)),
    Crux(2, "How motivated will the research community be to fix them?", ("motivated",)),
    Crux(3, "How likely will developers be to use the fixes?",
         ("cheap", "large_use", "small_use")),
    Crux(4, "How reliably will developers need to use the fixes? (e.g. how much x-risk "
            "would result from a small company *not* using them?)", ("reliability",)),
)

CRUX_NODES = {n.name: n for n in (
    NodeInfo("hard", 1, "problems intractable",
             "the problems are effectively intractable on ~40-year timelines"),
    NodeInfo("motivated", 2, "researchers fix, not patch",
             "given tractable problems, a real fix (not a patch) is developed; the model "
             "equates this with the share of researchers highly motivated to fix them"),
    NodeInfo("cheap", 3, "fix cheap enough",
             "given a fix, it is cheap enough to be deemed practical (and then easy to apply)"),
    NodeInfo("large_use", 3, "large orgs use it",
             "given a cheap fix, the large developers use it"),
    NodeInfo("small_use", 3, "small orgs use it",
             "given a cheap fix used by the large developers, the small ones use it too"),
    NodeInfo("reliability", 4, "small-org non-use is fatal",
             "given a small developer does not use the fix, existential catastrophe follows"),
)}

_A_PRE = "Personally, OTTMH (numbers pulled out of my ass), my views on these cruxes are:"
_A_HARD = ("It\u2019s hard to say, but I\u2019d say there\u2019s a ~85% chance they are extremely "
           "difficult (effectively intractable on short-to-medium (~40yrs) timelines).")
_A_MOTIVATED = ("A small minority (~1-20%) of researchers will be highly motivated to fix them, "
                "once they are apparent/prominent. More researchers (~10-80%) will focus on "
                "patches.")
_A_USE = ("Conditioned on fixes being easy and cheap to apply, large orgs will be very likely "
          "to use them (~90%); small orgs less so (~50%).")
_A_CHEAP = ("Fixes are likely to be easy to apply (we\u2019ll build good tools), if they are "
            "cheap enough to be deemed \u201cpractical\u201d, but very unlikely (~10%) to be "
            "cheap enough.")
_A_RELIABLE = ("It will probably need to be highly reliable; \u201cthe necessary "
               "intelligence/resources needed to destroy the world goes down every year\u201d "
               "(unless we make a lot of progress of governance, which seems fairly unlikely "
               "(~15%))")

_B_SCOPE = ("Sure, also making up numbers, everything conditional on the neural net paradigm, "
            "and only talking about failures of single-single intent alignment:")
_B_HARD = ("~90% that there aren\u2019t problems or we \u201ccould\u201d fix them on 40 year "
           "timelines")
_B_MOTIVATED = ("I\u2019m not sure exactly what is meant by motivation so will not predict, but "
                "there will be many people working on fixing the problems")
_B_ONTOLOGY = ("\u201cAre fixes used\u201d is not a question in my ontology; something counts as "
               "a \u201cfix\u201d only if it\u2019s cheap enough to be used.")
_B_FAIL = ("You could ask \u201cdid the team fail to use an existing fix that counterfactually "
           "would have made the difference between existential catastrophe and not\u201d "
           "(possibly because they didn\u2019t know of its existence), then < 10% and I don\u2019t "
           "have enough information to distinguish between 0-10%.")
_B_RELIABLE = ("I\u2019ll answer \u201chow much x-risk would result from a small company *not* "
               "using them\u201d, if it\u2019s a single small company then < 10% and I don\u2019t "
               "have enough information to distinguish between 0-10% and I expect on "
               "reflection I\u2019d say < 1%.")

_A = Participant("A", "the commenter who listed the four cruxes and asked for a quantitative "
                      "model (author not confirmed here)", _A_PRE, {
    "hard": Estimate("hard", "~85%", _f("17/20"), _f("17/20"), _A_HARD),
    "motivated": Estimate("motivated", "~1-20%", _f("1/100"), _f("1/5"), _A_MOTIVATED,
                          "a share of researchers, read as the probability that a real fix "
                          "is developed; the ~10-80% on patches enters only through it"),
    "cheap": Estimate("cheap", "~10%", _f("1/10"), _f("1/10"), _A_CHEAP,
                      "\u2018likely to be easy to apply \u2026 if cheap\u2019: the tree takes a "
                      "cheap fix to be easy to apply"),
    "large_use": Estimate("large_use", "~90%", _f("9/10"), _f("9/10"), _A_USE,
                          "conditional on easy and cheap, as stated"),
    "small_use": Estimate("small_use", "~50%", _f("1/2"), _f("1/2"), _A_USE,
                          "conditional on easy and cheap, as stated"),
    "reliability": Estimate("reliability", "~85% (1 - ~15%)", _f("17/20"), _f("17/20"),
                            _A_RELIABLE, "derived: non-use by a small org is fatal unless "
                            "governance makes a lot of progress (~15%), so 1 - 15/100"),
})
_B = Participant("B", "the commenter who answered the cruxes (\u201cSure, also making up "
                      "numbers\u201d; author not confirmed here)", _B_SCOPE, {
    "hard": Estimate("hard", "~10% (1 - ~90%)", _f("1/10"), _f("1/10"), _B_HARD,
                     "derived: 1 - 90/100; \u2018there aren\u2019t problems\u2019 is counted as "
                     "tractable"),
    "motivated": Estimate("motivated", "declined (will not predict)", None, None,
                          _B_MOTIVATED, "declined; \u2018many people working on fixing the "
                          "problems\u2019 is not a number"),
    "cheap": Estimate("cheap", "not in ontology", None, None, _B_ONTOLOGY,
                      "declined; B's definition makes every fix cheap enough to be used, "
                      "so the baseline reads it as 1", reading=_f("1")),
    "large_use": Estimate("large_use", "> 90% (1 - < 10%)", _f("9/10"), _f("1"), _B_FAIL,
                          "derived: the team fails to use a decisive fix with probability in "
                          "[0, 10%]"),
    "small_use": Estimate("small_use", "not in ontology", None, None, _B_ONTOLOGY,
                          "declined: \u2018are fixes used\u2019 is not a question in B's "
                          "ontology"),
    "reliability": Estimate("reliability", "< 10% (on reflection < 1%)", _f("0"), _f("1/10"),
                            _B_RELIABLE, "the stated < 10%; the reflective < 1% is "
                            ":data:`B_REFLECTIVE_RELIABILITY`"),
})

#: The two participants, by key.
PARTICIPANTS = {"A": _A, "B": _B}

#: B's reflective reading of the reliability node, [0, 1/100] (not the stated answer).
B_REFLECTIVE_RELIABILITY = Estimate("reliability", "< 1% (on reflection)", _f("0"),
                                    _f("1/100"), _B_RELIABLE)
