"""The pure half of place resolution: scanning a text for names, and reading the hits as one address."""

from jiesu.places import rules
from jiesu.places.rules import Hit, NameTable, PlaceRef

# A toy tree: two districts, a street in each, a 香屯村 in both, as in Beijing (昌平区兴寿镇, 延庆区大庄科乡).
CP = PlaceRef("D1", "district", ("D1",))
YQ = PlaceRef("D2", "district", ("D2",))
XS = PlaceRef("S1", "street", ("D1", "S1"))
DZK = PlaceRef("S2", "street", ("D2", "S2"))
XT1 = PlaceRef("C1", "community", ("D1", "S1", "C1"))
XT2 = PlaceRef("C2", "community", ("D2", "S2", "C2"))


def table() -> NameTable:
    t = NameTable()
    for name, ref in [("昌平区", CP), ("昌平", CP), ("延庆区", YQ), ("兴寿镇", XS), ("大庄科乡", DZK),
                      ("香屯村", XT1), ("香屯村", XT2)]:
        t.add(name, ref, rules.name_weight(ref.level, name, official=True))
    t.add("香屯", XT1, rules.name_weight("community", "香屯", official=False))
    t.add("香屯", XT2, rules.name_weight("community", "香屯", official=False))
    return t


def test_scan_finds_the_longest_names_only():
    hits = table().scan(rules.scan_key("昌平区兴寿镇香屯村安四路"))
    assert [(h.text, h.start, h.end) for h in hits] == [("昌平区", 0, 3), ("兴寿镇", 3, 6), ("香屯村", 6, 9)]
    assert {p.code for p, _ in hits[2].places} == {"C1", "C2"}


def test_scan_key_folds_width_and_spaces():
    assert rules.scan_key("中国矿业大学（北京） 社区") == "中国矿业大学(北京)社区"
    assert rules.scan_key("５号楼") == "5号楼"


def test_weights_rank_full_names_over_stripped_ones():
    assert rules.name_weight("community", "香屯村", official=False) == rules.STRONG_WEIGHT
    assert rules.name_weight("community", "首座御园二里", official=False) == rules.WEAK_WEIGHT
    assert rules.name_weight("community", "二街", official=False) == rules.SHORT_WEAK_WEIGHT
    assert rules.name_weight("district", "大兴", official=False) == rules.STRONG_WEIGHT


def test_a_name_in_two_districts_is_ambiguous_with_both():
    c = rules.combine(table().scan("香屯村"))
    assert c.ambiguous and c.best == ()
    assert [t.path for t in c.top] == [("D1", "S1", "C1"), ("D2", "S2", "C2")]
    assert 0 < c.confidence < 0.5


def test_a_district_or_a_street_settles_it():
    for text in ("昌平区香屯村", "兴寿镇香屯村", "昌平香屯", "延庆区大庄科乡香屯村"):
        c = rules.combine(table().scan(text))
        assert not c.ambiguous, text
        assert c.best[-1] == ("C2" if "延庆" in text else "C1"), text
    full = rules.combine(table().scan("昌平区兴寿镇香屯村"))
    alone = rules.combine(table().scan("昌平区香屯村"))
    assert full.confidence > alone.confidence > 0.5


def test_coordinates_settle_it():
    c = rules.combine(table().scan("香屯村"), located_district="D2")
    assert not c.ambiguous and c.best == ("D2", "S2", "C2")


def test_a_district_alone_or_nothing():
    assert rules.combine(table().scan("昌平区某路")).best == ("D1",)
    nothing = rules.combine(table().scan("火星"))
    assert (nothing.best, nothing.ambiguous, nothing.confidence) == ((), False, 0.0)


def test_one_mention_counts_once_whatever_it_names():
    # 三间房 names a street in one district and a village in another: a tie, not a win for the street
    street, village = PlaceRef("S9", "street", ("D1", "S9")), PlaceRef("C9", "community", ("D2", "S2", "C9"))
    hit = Hit(0, 3, "三间房", ((street, 1.0), (village, 0.8)))
    assert rules.combine([hit]).ambiguous


def test_nested_hits_come_back_when_their_holder_is_contested():
    district = PlaceRef("D3", "district", ("D3",))
    village = PlaceRef("C3", "community", ("D3", "S3", "C3"))
    other = PlaceRef("C4", "community", ("D4", "S4", "C4"))
    hits = [Hit(0, 3, "门头沟", ((district, 1.0),)), Hit(2, 5, "沟北村", ((other, 1.0),)),
            Hit(3, 5, "北村", ((village, 0.5),))]
    kept = rules.longest_hits(hits)
    assert [h.text for h in kept] == ["门头沟", "沟北村", "北村"]
    c = rules.combine(kept)
    assert not c.ambiguous and c.best == ("D3", "S3", "C3")
    # uncontested, the inner name stays dropped: 首座御园二里 is not also 二里
    alone = rules.longest_hits([Hit(0, 6, "首座御园二里", ()), Hit(4, 6, "二里", ())])
    assert [h.text for h in alone] == ["首座御园二里"]


def test_confidence_bounds():
    assert rules.confidence(0, 0, 1) == 0.0
    assert rules.confidence(10, 0, 1) == 0.99
    assert rules.confidence(1, 0, 1) == 0.7
    assert rules.confidence(1, 0, 2) == 0.35
