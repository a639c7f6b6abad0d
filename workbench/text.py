"""Deterministic, CJK-aware text processing shared by search indexing and the term graph.

Chinese is segmented with jieba (search mode, so 数据分析 also yields 数据 and 分析);
other text is split on Unicode word boundaries and lower-cased. Stop words of both
languages are dropped from *terms*; search tokens keep them, as a search engine would.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from functools import lru_cache

import jieba

__all__ = ["extract_terms", "has_cjk", "search_tokens", "segment_for_index"]

jieba.setLogLevel(logging.WARNING)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_CODE_BLOCK = re.compile(r"```.*?```", re.DOTALL)

ENGLISH_STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further get got had has have having he her here hers him his how i if in into is
    it its itself just let like me more most my no nor not now of off on once only or other
    our ours out over own please same she should so some such than thank thanks that the their
    theirs them then there these they this those through to too under until up use used using
    very want was we well were what when where which while who whom why will with would you
    your yours yes ok okay one two also can't don't i'm it's i'd i'll you're what's that's
    here's there's let's how's""".split()
)
CHINESE_STOP_WORDS = frozenset(
    """的 了 和 是 就 都 而 及 与 着 或 一个 没有 我们 你们 他们 她们 它们 我 你 他 她 它 这 那 这个 那个
    这些 那些 之 在 也 有 被 把 让 给 对 从 向 以 及其 并 还 又 很 更 最 吗 呢 吧 啊 呀 嗯 哦 可以 可能
    如果 因为 所以 但是 然后 什么 怎么 怎样 如何 为什么 哪 哪些 一些 一下 一点 非常 已经 需要 应该 能
    会 要 想 请 谢谢 好 好的 是的 不 不是 没 上 下 中 里 后 前 时 时候 等 等等 就是 还是 比较 通过 进行
    使用 用 一 二 三 个 些 其 其中 以及 关于 对于 您""".split()
)
STOP_WORDS = ENGLISH_STOP_WORDS | CHINESE_STOP_WORDS


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


@lru_cache(maxsize=4096)
def _segment_cjk(run: str, for_search: bool) -> tuple[str, ...]:
    words = jieba.cut_for_search(run) if for_search else jieba.cut(run)
    return tuple(w for w in words if w.strip())


def _tokens(text: str, *, for_search: bool) -> list[str]:
    tokens: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        if not has_cjk(word):
            tokens.append(word.lower())
            continue
        # a word may mix scripts ("Redis缓存"): keep the Latin parts whole, segment the CJK runs
        position = 0
        for run in _CJK_RUN.finditer(word):
            if run.start() > position:
                tokens.append(word[position : run.start()].lower())
            tokens.extend(_segment_cjk(run.group(0), for_search))
            position = run.end()
        if position < len(word):
            tokens.append(word[position:].lower())
    return tokens


def segment_for_index(text: str) -> str:
    """``text`` as space-separated tokens for an index (Chinese in jieba's search mode)."""
    return " ".join(_tokens(text, for_search=True))


def search_tokens(query: str) -> list[str]:
    """The tokens of a user's query (precise segmentation), to be matched all together."""
    return _tokens(query, for_search=False)


def extract_terms(text: str, *, limit: int = 12) -> list[str]:
    """The message's key terms: stop words, numbers, code and one-letter words removed.

    Deterministic: ordered by frequency, then by first appearance.
    """
    prose = _CODE_BLOCK.sub(" ", text)
    counts: Counter[str] = Counter()
    for token in _tokens(prose, for_search=False):
        if token in STOP_WORDS or token.isdigit():
            continue
        if has_cjk(token) and len(token) < 2:
            continue
        if not has_cjk(token) and len(token) < 3:
            continue
        counts[token] += 1
    return [term for term, _ in counts.most_common(limit)]
