"""One word for each term: the glossary covers every enum the pages and the API label, and says each Chinese
word in one English word; the Babel catalogue does not say them a second time."""

import re

import pytest

from jiesu import glossary
from jiesu.assessment.models import FactKind
from jiesu.assessment.service import ALL_MEASURES, LEVELS
from jiesu.callback.models import CallbackChannel, Resolution, Satisfaction
from jiesu.hotspots.rules import ProjectStatus, TopicStatus
from jiesu.knowledge.rules import ArticleStatus
from jiesu.permissions import Role
from jiesu.places.models import AreaLevel
from jiesu.taxonomy.models import RequestType, Urgency
from jiesu.tickets.models import Channel, SummonsState, UnitRole
from jiesu.tickets.rules import Step, TicketState
from jiesu.units.models import UnitKind
from jiesu.web import i18n
from jiesu.web.pages import DEADLINE_MARKS

ENUMS = {
    "ticket_state": TicketState, "step": Step, "channel": Channel, "summons_state": SummonsState,
    "request_type": RequestType, "urgency": Urgency, "unit_kind": UnitKind, "role": Role,
    "area_level": AreaLevel, "resolution": Resolution, "satisfaction": Satisfaction,
    "callback_channel": CallbackChannel, "fact_kind": FactKind, "article_status": ArticleStatus,
    "topic_status": TopicStatus, "project_status": ProjectStatus,
}
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("kind", sorted(ENUMS))
def test_every_member_of_an_enum_has_its_words(kind):
    assert set(glossary.KINDS[kind]) == {m.value for m in ENUMS[kind]}


def test_the_other_kinds_cover_their_keys():
    assert set(glossary.UNIT_ROLE) == {"main"} | {r.value for r in UnitRole}
    assert set(glossary.ASSESSMENT_LEVEL) == set(LEVELS)
    assert set(glossary.MEASURE) == set(ALL_MEASURES)
    assert set(glossary.DEADLINE) == set(DEADLINE_MARKS)


def test_every_term_has_both_words():
    for kind, terms in glossary.KINDS.items():
        for value, term in terms.items():
            assert term.zh and term.en, (kind, value)
            assert not CJK.search(term.en), (kind, value, term.en)


def test_a_chinese_word_has_one_english_word():
    glossary.translations("en")  # raises on a word with two
    glossary.translations("en", glossary.PLACE_KINDS)


def test_the_unified_wordings():
    assert glossary.label("step", Step.uphold_return) == glossary.label("fact_kind", FactKind.upheld_return) \
        == glossary.label("measure", "upheld_return") == "退单审核通过"
    assert glossary.label("ticket_state", TicketState.replied) == "已答复"
    assert glossary.label("ticket_state", "replied", "en") == "Replied"


def test_label_falls_back_to_the_value_and_labels_keep_the_keys_given():
    assert glossary.label("step", "no_such_step") == "no_such_step"
    assert list(glossary.labels("urgency", Urgency)) == list(Urgency)
    assert glossary.labels("urgency", lang="en") == {"emergency": "emergency", "normal": "normal",
                                                     "complex": "complex"}
    with pytest.raises(KeyError):
        glossary.labels("urgency", ["no_such_urgency"])


def test_the_catalogue_reads_the_glossary_and_does_not_repeat_it():
    i18n.catalogue.cache_clear()
    en = i18n.catalogue("en")
    assert en["待签收"] == "To sign" and en["吹哨报到"] == "Whistle (summons)"
    assert i18n.context_translator("en", i18n.PLACE_KIND)("街道") == "Subdistrict"
    po = (i18n.LOCALES / "en" / "LC_MESSAGES" / "jiesu.po").read_text(encoding="utf-8")
    msgids = set(re.findall(r'^msgid "(.+)"$', po, re.M))
    # 区 alone: the home page counts "districts"; as a place's kind it is the glossary's District
    assert msgids & set(glossary.translations("en")) == {"区"}
    assert "msgctxt" not in po
