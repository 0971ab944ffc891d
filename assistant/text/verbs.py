"""English verb forms, by rule and a list of irregular verbs: what turns
"What did Trump threaten?" into "the tariff Trump threatened"."""

from __future__ import annotations

import re

_IRREGULAR = dict(
    pair.split(":")
    for pair in """arise:arose be:was bear:bore beat:beat become:became begin:began bend:bent bet:bet bind:bound
    bite:bit bleed:bled blow:blew break:broke bring:brought build:built burn:burnt buy:bought catch:caught
    choose:chose come:came cost:cost creep:crept cut:cut deal:dealt dig:dug do:did draw:drew drink:drank drive:drove
    eat:ate fall:fell feed:fed feel:felt fight:fought find:found flee:fled fly:flew forbid:forbade forget:forgot
    forgive:forgave freeze:froze get:got give:gave go:went grow:grew hang:hung have:had hear:heard hide:hid hit:hit
    hold:held hurt:hurt keep:kept know:knew lay:laid lead:led leave:left lend:lent let:let lie:lay light:lit
    lose:lost make:made mean:meant meet:met overcome:overcame oversee:oversaw pay:paid put:put quit:quit read:read
    ride:rode ring:rang rise:rose run:ran say:said see:saw seek:sought sell:sold send:sent set:set shake:shook
    shed:shed shine:shone shoot:shot show:showed shut:shut sing:sang sink:sank sit:sat sleep:slept slide:slid
    speak:spoke spend:spent split:split spread:spread stand:stood steal:stole stick:stuck strike:struck swear:swore
    sweep:swept swim:swam take:took teach:taught tear:tore tell:told think:thought throw:threw undergo:underwent
    understand:understood undertake:undertook upset:upset wake:woke wear:wore win:won withdraw:withdrew write:wrote""".split()
)


def past_tense(verb: str) -> str:
    """The simple past of an English verb ("threaten" -> "threatened", "meet" -> "met")."""
    v = verb.lower()
    if v in _IRREGULAR:
        return _IRREGULAR[v]
    if v.endswith("e"):
        return v + "d"
    if re.search(r"[^aeiou]y$", v):
        return v[:-1] + "ied"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgklmnprt]", v):  # one syllable: "plan" -> "planned"
        return v + v[-1] + "ed"
    return v + "ed"


def third_person(verb: str) -> str:
    """The third person singular of an English verb ("want" -> "wants")."""
    v = verb.lower()
    if v in ("have", "do", "go"):
        return {"have": "has", "do": "does", "go": "goes"}[v]
    if re.search(r"(?:s|sh|ch|x|z)$", v):
        return v + "es"
    if re.search(r"[^aeiou]y$", v):
        return v[:-1] + "ies"
    return v + "s"
