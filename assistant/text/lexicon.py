"""The one English lexicon of function words and name-context words, shared
by the tokenizer, the rewrite stage, the name finder and the answer-type
rules (each list was kept where it was used until issue 23; moved here
verbatim, so behaviour is unchanged). Generic English, no corpus's words."""

from __future__ import annotations

# used by answerers/kinds.py
COMMON_START = set(
    """the this that these those there their they it its in on at as for from by with after before during since
    when while if but and or also however meanwhile moreover yet although though despite according unlike
    both each many most some such other another all any one two three four five six seven eight nine ten
    first second third last next new former acting his her our we you i a an to of no not""".split()
)

# used by text/names.py
# Words that make a capitalised run a title, an office or a place, not a
# person's name ("Finance Minister Choi Sang-mok" -> "Choi Sang-mok").
NAME_TITLES = set(
    """the a an and of for in on at to with mr ms mrs dr president vice prime minister ministers secretary deputy
    finance industry trade foreign defense defence treasury commerce representative ambassador envoy
    chairman chief professor senator governor acting former current general leader premier king queen south north
    east west state states united white house ministry office national assembly forum institute university times
    news agency herald economic security council party government administration department""".split()
)

# used by rewrite/condense.py
QUESTION_STOP = set(
    "a an the of to in on at for and or but is are was were be been being do does did has have had "
    "what who whom when where why how which that this these those it its he she they him her them his "
    "their there then about with as by from into than so also can could will would should may might "
    "tell me please more".split()
)

# used by rewrite/condense.py
PERSONAL_PRONOUNS = {"he", "she", "him", "his", "her", "hers", "they", "them", "their", "theirs"}

# used by rewrite/condense.py
DEMONSTRATIVES = {"this", "that", "these", "those"}

# used by rewrite/condense.py
AUXILIARIES = set("did does do is are was were has have had will would can could should might may must".split())

# used by rewrite/condense.py
PREPOSITIONS = set(
    """about of on in for with from to after before by at over under against behind besides beyond despite like than
    since until during into onto upon alongside across around through toward towards within without beside""".split()
)

# used by rewrite/condense.py
TIME_WORDS = set(
    "year years month months week weeks summer winter spring autumn fall time morning evening day weekend quarter "
    "decade century season".split()
)

# used by rewrite/condense.py
LINKING_VERBS = set(
    "is are was were be been 's has have had will would could might may seems seem appears appear remains".split()
)

# used by rewrite/condense.py
DETERMINERS = set("the a an this that these those its his her their our your my each every both some any no".split())

# used by text/tokens.py
# bm25s's own English list has 33 words; question words and auxiliaries
# ("what", "did", "has") would otherwise count as matches.
STOPWORDS = sorted(
    set(
        """
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves also may
might must shall us according tell please
""".split()
    )
)
