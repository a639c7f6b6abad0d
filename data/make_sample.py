#!/usr/bin/env python3
# ruff: noqa: E501 -- long lines here are conversation templates and vocabulary, kept unwrapped to stay readable
"""Generate the deterministic sample data set ``data/sample_conversations.jsonl``.

Standard library only.  Every random choice comes from one ``random.Random(seed)``
and the calendar is fixed (2026-06-01 .. 2026-11-30, UTC), so the same arguments
always give byte-identical output.  Only portable randomness is used (``random()``,
``randint``, ``choice(s)``, ``shuffle``, ``getrandbits``, ``uniform`` and integer or
``sqrt`` arithmetic) -- no ``gauss``/``lognormvariate``, whose results depend on the
platform's libm.

    python data/make_sample.py [--seed N] [--users N] [--sessions N] [--out PATH]

One JSON object per line, one line per session (see ``data/README.md``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

DEFAULT_SEED = 20261130
DEFAULT_SESSIONS = 360
DEFAULT_OUT = Path(__file__).resolve().parent / "sample_conversations.jsonl"

FIRST_DAY = date(2026, 6, 1)
LAST_DAY = date(2026, 11, 30)
START_UTC = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
END_UTC = datetime(LAST_DAY.year, LAST_DAY.month, LAST_DAY.day, tzinfo=UTC) + timedelta(days=1)
N_DAYS = (LAST_DAY - FIRST_DAY).days + 1

DEFAULT_SESSION_NAME = "对话"
SYSTEM_PROMPTS = {
    "en": ["You are a helpful assistant."] * 4 + ["You are a helpful assistant. Answer concisely."],
    "zh": ["你是一个乐于助人的助手。"] * 4 + ["你是一个乐于助人的助手，请用简洁的中文回答。"],
}

# --------------------------------------------------------------------------- users
# (user_id, UTC offset in minutes, language profile, activity class, favourite topics)
# language profile: probability that a session is in English.
USERS: list[tuple[str, int, float, str, list[str]]] = [
    ("u_alice", -300, 1.0, "heavy", ["data_analysis", "machine_learning", "writing", "database"]),
    ("u_wang_wei", 480, 0.0, "heavy", ["data_analysis", "database", "machine_learning"]),
    ("u_kevin_zhang", -480, 0.55, "heavy", ["kubernetes", "database", "machine_learning", "data_analysis"]),
    ("u_bob", -480, 1.0, "medium", ["kubernetes", "redis", "database"]),
    ("u_li_na", 480, 0.0, "medium", ["cooking", "travel"]),
    ("u_david", -300, 1.0, "medium", ["elasticsearch", "database", "redis"]),
    ("u_chen_jing", 480, 0.05, "medium", ["machine_learning", "data_analysis"]),
    ("u_emma", 60, 1.0, "medium", ["machine_learning", "data_analysis"]),
    ("u_lin_mei", 480, 0.3, "medium", ["data_analysis", "travel", "writing"]),
    ("u_carol", 0, 1.0, "light", ["cooking", "travel", "writing"]),
    ("u_zhang_wei", 480, 0.0, "light", ["database", "machine_learning"]),
    ("u_frank", -360, 1.0, "light", ["kubernetes", "redis"]),
    ("u_liu_yang", 480, 0.0, "light", ["travel", "cooking"]),
    ("u_grace", -480, 1.0, "light", ["writing", "travel"]),
    ("u_yang_fan", 480, 0.0, "light", ["database", "data_analysis"]),
    ("u_henry", 0, 1.0, "light", ["cooking", "data_analysis"]),
    ("u_zhao_lei", 480, 0.05, "light", ["cooking", "database"]),
    ("u_isabel", 60, 1.0, "light", ["travel", "cooking"]),
    ("u_huang_min", 480, 0.0, "light", ["travel", "data_analysis"]),
    ("u_jack", -300, 1.0, "light", ["kubernetes", "elasticsearch"]),
    ("u_zhou_jie", 480, 0.0, "light", ["machine_learning", "travel"]),
    ("u_karen", 600, 1.0, "light", ["writing", "machine_learning"]),
    ("u_wu_xia", 480, 0.0, "light", ["cooking", "travel"]),
    ("u_liam", 0, 1.0, "light", ["redis", "database", "kubernetes"]),
    ("u_sophia_chen", 60, 0.6, "light", ["cooking", "travel", "machine_learning"]),
    ("u_nora", -420, 1.0, "light", ["data_analysis", "cooking"]),
    ("u_jason_liu", 480, 0.5, "light", ["elasticsearch", "database", "redis"]),
    ("u_omar", 240, 1.0, "light", ["travel", "elasticsearch"]),
    ("u_priya", 330, 1.0, "light", ["machine_learning", "data_analysis"]),
]
ACTIVITY_WEIGHT = {"heavy": 10.0, "medium": 3.5, "light": 1.0}

# ------------------------------------------------------------------------- models
# name: (ttft base ms, ttft jitter ms, prefill ms per prompt token, ms per output token)
MODELS: dict[str, tuple[int, int, float, float]] = {
    "gpt-4o-mini": (280, 350, 0.04, 11.0),
    "gpt-4o": (380, 450, 0.06, 19.0),
    "qwen2.5-7b-instruct": (90, 200, 0.12, 21.0),
    "llama3.1-8b": (110, 220, 0.13, 23.0),
}
MODEL_WEIGHTS = {
    "en": {"gpt-4o-mini": 6, "gpt-4o": 2, "llama3.1-8b": 2, "qwen2.5-7b-instruct": 0.5},
    "zh": {"qwen2.5-7b-instruct": 7, "gpt-4o-mini": 2, "llama3.1-8b": 1, "gpt-4o": 0.5},
}

# --------------------------------------------------------------- time-of-day shape
# fmt: off
HOURS_WEEKDAY = [0.15, 0.08, 0.04, 0.03, 0.03, 0.06, 0.2, 0.5, 1.1, 1.7, 2.0, 1.8,
                 1.0, 1.3, 1.8, 1.9, 1.7, 1.3, 0.9, 1.0, 1.3, 1.4, 1.0, 0.5]
HOURS_WEEKEND = [0.3, 0.2, 0.1, 0.05, 0.03, 0.04, 0.1, 0.3, 0.6, 0.9, 1.2, 1.3,
                 1.3, 1.3, 1.4, 1.4, 1.3, 1.2, 1.2, 1.4, 1.6, 1.6, 1.2, 0.7]
# fmt: on
# Pairs (user + assistant turns) per session: a hump around 4-8 and a long tail to 30.
# fmt: off
PAIR_WEIGHTS = dict(enumerate([
    5, 7, 8, 9, 9, 9, 8.5, 8, 7.5, 7, 6.5, 6, 5.5, 5, 4.6,
    4.2, 3.8, 3.4, 3.0, 2.7, 2.4, 2.1, 1.9, 1.7, 1.5, 1.3, 1.2, 1.1, 1.0, 1.0], start=1))
# fmt: on

# ------------------------------------------------------------------ generic text
GENERIC: dict[str, dict[str, list[str]]] = {
    "en": {
        "intros": [
            "Sure!",
            "Good question.",
            "Here's how I would approach it.",
            "Happy to help.",
            "In short, there are two things to look at.",
            "There are a few ways to do this.",
            "This is a common problem.",
            "Let's break it down.",
            "Great, thanks for the details.",
            "That depends a little on your setup, but here is the usual approach.",
        ],
        "closers": [
            "Let me know if you'd like a complete example.",
            "Hope this helps!",
            "If you share the exact error message, I can narrow it down.",
            "Want me to adapt this to your data?",
            "Feel free to ask if anything is unclear.",
            "I can also walk you through the alternatives if you like.",
        ],
        "points": [
            "It's worth trying this on a small sample first.",
            "Measure before and after the change, so you know it actually helped.",
            "The official documentation has a good section on exactly this.",
            "If you can share a small reproducible example, I can be more specific.",
            "Keep the first version simple and only optimise what turns out to be slow.",
            "Writing a quick test for this case will save you time later.",
        ],
        "followups": [
            "Can you explain that in simpler terms?",
            "Can you give me an example?",
            "Is there a faster way?",
            "What are the downsides of this approach?",
            "Could you summarise that in a few bullet points?",
            "Why does that work?",
            "What would you do in my situation?",
        ],
        "acks": [
            "Thanks, that helped.",
            "Got it.",
            "Hmm, that didn't quite work.",
            "OK.",
            "Makes sense.",
            "Interesting.",
            "That worked, thanks!",
        ],
        "before": [
            "I'm fairly new to this.",
            "This is for a work project.",
            "I tried searching but couldn't find a clear answer.",
            "Quick question.",
            "Following up on something I tried yesterday.",
        ],
        "after": [
            "Thanks in advance!",
            "Keep it short please.",
            "Any advice appreciated.",
            "I'd like to understand the why, not just the how.",
        ],
        "closings": [
            "Thanks, that's exactly what I needed!",
            "Great, I'll try that.",
            "Perfect, thank you 🙏",
            "That solved it, thanks!",
            "Awesome, thanks a lot 👍",
            "Cool, that's all for now.",
            "Thank you, this was really helpful.",
        ],
        "closing_replies": ["You're welcome!", "Glad it worked.", "Happy to help!", "Great to hear that."],
        "continue_user": ["Please continue.", "Go on.", "It got cut off, can you finish?"],
        "continue_intros": [
            "Continuing from where I stopped:",
            "Sure, here is the rest.",
            "Picking up where I left off:",
        ],
        "bullet_leads": [
            "A few things that usually help:",
            "Here is a checklist:",
            "In short:",
            "The main options are:",
        ],
        "code_leads": [
            "Here's an example:",
            "Something like this:",
            "For example:",
            "A minimal version looks like this:",
        ],
        "short": ["ok", "thanks", "and then?", "why?"],
    },
    "zh": {
        "intros": [
            "好的！",
            "这是个好问题。",
            "可以这样来做。",
            "没问题。",
            "简单来说，有两点需要注意。",
            "这个问题很常见。",
            "我们一步一步来看。",
            "谢谢你提供的细节。",
            "有几种常见的做法。",
            "具体要看你的场景，不过一般是这样处理的。",
        ],
        "closers": [
            "如果需要完整示例，可以告诉我。",
            "希望对你有帮助！",
            "方便的话把报错信息发给我，我可以进一步分析。",
            "需要我根据你的数据调整一下吗？",
            "有不清楚的地方随时问我。",
            "如果需要，我也可以介绍一下其他方案。",
        ],
        "points": [
            "建议先用一小部分数据试一下。",
            "修改前后都测量一下，才能确认优化确实有效。",
            "官方文档里有专门的章节讲这个问题。",
            "如果能提供一个可以复现的小例子，我可以回答得更具体。",
            "第一版先保持简单，真正慢的地方再去优化。",
            "为这种情况写一个测试，以后能省很多时间。",
        ],
        "followups": [
            "能解释得更通俗一点吗？",
            "能举个例子吗？",
            "有没有更快的方法？",
            "这种方法有什么缺点？",
            "能用几条要点总结一下吗？",
            "为什么这样就可以了？",
            "如果是你会怎么做？",
        ],
        "acks": ["谢谢，有帮助。", "明白了。", "嗯，好像还是不行。", "好的。", "有道理。", "原来如此。"],
        "before": [
            "我是新手。",
            "这是工作上的需求。",
            "网上搜了一下没找到明确的答案。",
            "请教一个问题。",
            "接着昨天的问题。",
        ],
        "after": ["提前谢谢！", "请简单说明一下。", "希望能给点建议。", "最好能说一下原因。"],
        "closings": [
            "谢谢，正是我需要的！",
            "太好了，我去试试。",
            "明白了，非常感谢👍",
            "问题解决了，谢谢！",
            "好的，今天先到这里。",
            "谢谢你的耐心解答。",
        ],
        "closing_replies": ["不客气！", "很高兴能帮到你。", "不用谢！", "太好了。"],
        "continue_user": ["继续", "请继续说。", "好像没说完，能接着写吗？"],
        "continue_intros": ["接着上面的内容：", "好的，下面是剩下的部分。", "继续刚才的话题："],
        "bullet_leads": ["几个常用的办法：", "可以按下面的清单检查：", "总结一下：", "主要有这几种方案："],
        "code_leads": ["示例代码如下：", "可以参考下面的写法：", "举个例子：", "一个最简单的版本："],
        "short": ["好的", "谢谢", "然后呢？", "为什么？"],
    },
}

# ------------------------------------------------------------------------ topics
# Each language block: vocab (slot -> values; "a|b" keys bind linked slots from tuples),
# sticky (slots fixed for a whole session), openers [(title, text)], followups, points,
# code [(language, body)], code_p, bullets, optional bullet_leads.
TOPICS: dict[str, dict[str, Any]] = {}

TOPICS["data_analysis"] = {
    "work": True,
    "en": {
        "vocab": {
            "dataset": [
                "sales_2026.csv",
                "orders_export.csv",
                "customer_churn.csv",
                "web_sessions.csv",
                "survey_results.csv",
                "sensor_readings.csv",
                "transactions.csv",
                "inventory_snapshot.csv",
            ],
            "group_col": ["region", "category", "store_id", "country", "product_line", "channel", "customer_segment"],
            "value_col": ["revenue", "price", "quantity", "duration_sec", "score", "amount", "discount"],
            "date_col": ["order_date", "created_at", "event_time", "signup_date", "ts"],
            "nrows": ["50k", "200,000", "3 million", "12 million", "800k", "40 million"],
            "freq|freq_code": [("daily", "D"), ("weekly", "W"), ("monthly", "MS"), ("quarterly", "QS")],
            "agg": ["sum", "mean", "median", "max", "count"],
            "key": ["customer_id", "order_id", "sku", "account_id"],
            "error": [
                "a SettingWithCopyWarning",
                "a KeyError",
                "a MemoryError",
                "ValueError: cannot reindex on an axis with duplicate labels",
                "TypeError: unsupported operand type(s) for +: 'int' and 'str'",
            ],
        },
        "sticky": ["dataset", "group_col", "value_col", "date_col"],
        "openers": [
            (
                "Group {dataset} by {group_col}",
                "How do I group {dataset} by {group_col} and get the {agg} of {value_col} in pandas?",
            ),
            (
                "Speeding up pandas",
                "I loaded {dataset} ({nrows} rows) into a DataFrame and everything is really slow. Any tips to speed things up?",
            ),
            (
                "Resample by {freq} totals",
                "What's the best way to resample my data to {freq} totals using the {date_col} column?",
            ),
            (
                "Pandas filtering error",
                "I keep getting {error} when I filter my DataFrame and assign a new column. What am I doing wrong?",
            ),
            (
                "Merge without duplicates",
                "How can I merge two DataFrames on {key} without ending up with duplicated rows?",
            ),
            (
                "Missing values in {value_col}",
                "Can you help me deal with missing values in the {value_col} column of {dataset}? About 8% of rows are NaN.",
            ),
            (
                "Pivot table by {group_col}",
                "I need a pivot table with {group_col} as rows and months as columns, showing {value_col}. How do I build it?",
            ),
            (
                "Plot {value_col} over time",
                "How do I plot {value_col} over time from {dataset} with pandas and matplotlib?",
            ),
            ("Pandas vs polars", "Is it worth switching from pandas to polars for a {nrows}-row dataset?"),
            (
                "Outliers in {value_col}",
                "What's a simple way to detect outliers in {value_col}? The data is pretty skewed.",
            ),
        ],
        "followups": [
            "What if {group_col} has missing values?",
            "Can you show the same thing using method chaining?",
            "How would I sort the result by {value_col} in descending order?",
            "How do I export the result to Excel with one sheet per {group_col}?",
            "Does this still work if the index is a MultiIndex?",
            "The {date_col} column is stored as strings. Do I need to convert it first?",
            "Roughly how much memory would this need for {nrows} rows?",
            "Could I do the same thing in SQL instead?",
            "Why is `apply` so slow here?",
            "How do I add a column with each row's percentage of the total?",
            "Can I compute a 7-day rolling average of {value_col} too?",
            "What's the difference between `transform` and `agg`?",
        ],
        "points": [
            '`df.groupby("{group_col}")["{value_col}"].{agg}()` gives you a Series indexed by {group_col}.',
            "Convert {date_col} with `pd.to_datetime` first; resampling only works on a datetime index.",
            "Storing {group_col} as a `category` dtype usually cuts memory use by a large factor.",
            "Row-wise `apply` calls a Python function for every row, so vectorised operations are often 10 to 100 times faster.",
            'Passing `validate="one_to_one"` to `merge` makes pandas raise an error if {key} is not unique on either side.',
            'You can fill gaps with `fillna`, interpolate them, or drop them with `dropna(subset=["{value_col}"])`, depending on why they are missing.',
            "With {nrows} rows, reading only the columns you need via `usecols` makes a noticeable difference.",
            "`pivot_table` aggregates duplicate entries, whereas `pivot` raises an error when it finds them.",
            "By default `groupby` drops NaN keys, so pass `dropna=False` if you want to keep them as their own group.",
            'The warning means you are assigning to a copy of a slice, so use `.loc[mask, "col"] = value` instead.',
            "Parquet keeps dtypes and loads several times faster than CSV, which matters for repeated analysis.",
            'A quick `df.info(memory_usage="deep")` shows which columns take the most memory.',
            "For skewed data, the IQR rule or a log transform is more robust than a z-score cut-off.",
            "`transform` returns a result aligned with the original rows, while `agg` returns one row per group.",
            "Polars is faster for large scans, but pandas still has the broader ecosystem and better plotting integration.",
            '`df["{value_col}"].rolling(7).mean()` works on sorted rows, and `rolling("7D")` handles gaps in the dates.',
        ],
        "code_p": 0.35,
        "code": [
            (
                "python",
                """import pandas as pd

df = pd.read_csv("{dataset}", parse_dates=["{date_col}"])
summary = (
    df.groupby("{group_col}", dropna=False)["{value_col}"]
      .agg(["{agg}", "count"])
      .sort_values("{agg}", ascending=False)
)
print(summary.head(10))""",
            ),
            (
                "python",
                """import pandas as pd

df = pd.read_csv("{dataset}")
df["{date_col}"] = pd.to_datetime(df["{date_col}"], errors="coerce")
series = (
    df.dropna(subset=["{date_col}"])
      .set_index("{date_col}")
      .sort_index()["{value_col}"]
      .resample("{freq_code}")
      .sum()
)
print(series.tail())""",
            ),
            (
                "python",
                """q1, q3 = df["{value_col}"].quantile([0.25, 0.75])
iqr = q3 - q1
mask = df["{value_col}"].between(q1 - 1.5 * iqr, q3 + 1.5 * iqr)
outliers = df[~mask]
print(f"{len(outliers)} outliers out of {len(df)} rows")""",
            ),
            (
                "python",
                """merged = left.merge(
    right.drop_duplicates(subset="{key}"),
    on="{key}",
    how="left",
    validate="many_to_one",
)
assert len(merged) == len(left)""",
            ),
            (
                "python",
                """df = pd.read_csv(
    "{dataset}",
    usecols=["{date_col}", "{group_col}", "{value_col}"],
    dtype={"{group_col}": "category"},
)
print(df.memory_usage(deep=True).sum() / 1e6, "MB")""",
            ),
            (
                "python",
                """totals = df.groupby("{group_col}")["{value_col}"].transform("sum")
df["share_pct"] = (df["{value_col}"] / totals * 100).round(1)""",
            ),
        ],
        "bullets": [
            "Load only the needed columns with `usecols`",
            "Convert low-cardinality strings to `category`",
            'Downcast numbers with `pd.to_numeric(..., downcast="integer")`',
            "Read large files in chunks with `chunksize=100_000`",
            "Save intermediate results as Parquet",
            "Replace `apply` with vectorised expressions or `np.where`",
            "Check dtypes with `df.dtypes` before heavy operations",
        ],
    },
    "zh": {
        "vocab": {
            "dataset": ["销售数据.csv", "用户行为日志.csv", "订单明细.csv", "问卷结果.csv", "门店流水.csv"],
            "dim|col": [
                ("地区", "region"),
                ("门店", "store_id"),
                ("品类", "category"),
                ("渠道", "channel"),
                ("城市", "city"),
                ("用户等级", "user_level"),
            ],
            "metric|mcol": [
                ("销售额", "sales"),
                ("订单量", "orders"),
                ("客单价", "avg_price"),
                ("转化率", "conversion_rate"),
                ("留存率", "retention"),
                ("访问时长", "duration"),
            ],
            "period": ["每天", "每周", "每月", "每季度"],
            "nrows": ["十万", "五十万", "三百万", "两千万"],
        },
        "sticky": ["dataset", "dim", "metric"],
        "openers": [
            ("按{dim}统计{metric}", "怎么用 pandas 按{dim}分组，统计{metric}的总和和平均值？"),
            ("{dataset}数据清洗", "我有一份{dataset}，大约{nrows}行，里面有很多缺失值和重复数据，应该怎么清洗？"),
            ("{metric}趋势分析", "我想分析{metric}的变化趋势，按{period}汇总，应该怎么做？"),
            ("数据透视表", "怎么用 pandas 做一个数据透视表，行是{dim}，列是月份，值是{metric}？"),
            ("异常值检测", "{metric}里有一些特别大的数值，怎么判断是不是异常值？"),
            ("pandas 运行太慢", "用 pandas 处理{nrows}行的数据特别慢，有什么优化的办法？"),
            ("分析报告怎么写", "数据分析做完了，怎么把结论写成一份清楚的分析报告给领导看？"),
            ("A/B 测试分析", "我们做了一个 A/B 测试，想比较两组的{metric}，怎么判断差异是否显著？"),
        ],
        "followups": [
            "如果{dim}有空值怎么办？",
            "能不能把结果按{metric}从高到低排序？",
            "怎么把结果导出成 Excel？",
            "日期列是字符串格式，需要先转换吗？",
            "用 SQL 能实现同样的分析吗？",
            "怎么画一个折线图展示趋势？",
            "能计算一下每个{dim}的占比吗？",
            "样本量多大才够做显著性检验？",
            "怎么计算同比和环比？",
        ],
        "points": [
            "在 pandas 里可以用 `groupby` 加 `agg` 一次计算多个统计量。",
            "先用 `pd.to_datetime` 把日期列转换成时间类型，再用 `resample` 按{period}汇总。",
            "缺失值的处理要看原因：可以用 `fillna` 填充，也可以直接删除。",
            "重复数据可以用 `drop_duplicates` 去掉，最好先确认哪些字段能唯一标识一条记录。",
            "把{dim}这类取值不多的字符串列转换成 `category` 类型，可以明显减少内存占用。",
            "判断异常值常用的方法是四分位距（IQR）规则，也可以先做对数变换再看分布。",
            "数据透视表可以用 `pivot_table` 实现，重复的数据会自动聚合。",
            "比较两组{metric}是否有显著差异，可以用 t 检验或者卡方检验，具体取决于指标类型。",
            "分析报告最好先写结论，再给出数据和图表作为支撑。",
            "对{nrows}行的数据，只读取需要的列、指定数据类型，速度会快很多。",
            "同比是和去年同期比较，环比是和上一个周期比较，在 pandas 里可以用 `pct_change` 计算。",
            "画趋势图时建议同时展示移动平均线，这样短期波动不会掩盖整体趋势。",
            "数据分析之前要先确认数据口径，否则不同报表之间的{metric}可能对不上。",
        ],
        "code_p": 0.3,
        "code": [
            (
                "python",
                """import pandas as pd

# 读取数据并转换日期
df = pd.read_csv("{dataset}", parse_dates=["order_date"])

# 按{dim}分组统计{metric}
result = (
    df.groupby("{col}")["{mcol}"]
      .agg(["sum", "mean", "count"])
      .sort_values("sum", ascending=False)
)
print(result.head(10))""",
            ),
            (
                "python",
                """# 按月汇总并计算环比
monthly = df.set_index("order_date")["{mcol}"].resample("MS").sum()
mom = monthly.pct_change().round(3)
print(pd.DataFrame({"{metric}": monthly, "环比": mom}))""",
            ),
            (
                "python",
                """from scipy import stats

a = df.loc[df["group"] == "A", "{mcol}"]
b = df.loc[df["group"] == "B", "{mcol}"]
t, p = stats.ttest_ind(a, b, equal_var=False)
print(f"t = {t:.2f}, p = {p:.4f}")""",
            ),
        ],
        "bullets": [
            "确认数据口径和时间范围",
            "去除重复记录",
            "处理缺失值和异常值",
            "统一日期和数值格式",
            "先做描述性统计，再做深入分析",
        ],
    },
}

TOPICS["kubernetes"] = {
    "work": True,
    "en": {
        "vocab": {
            "app": [
                "checkout-api",
                "web-frontend",
                "payments-worker",
                "search-service",
                "auth-gateway",
                "report-generator",
            ],
            "ns": ["staging", "production", "dev", "team-data"],
            "replicas": ["2", "3", "4", "6"],
            "image_tag": ["1.4.2", "2.0.0-rc1", "3.1.7", "0.9.12"],
            "port": ["8080", "3000", "9000", "5000"],
            "cpu": ["250m", "500m", "1"],
            "mem": ["256Mi", "512Mi", "1Gi", "2Gi"],
            "error": ["CrashLoopBackOff", "ImagePullBackOff", "OOMKilled", "Pending", "CreateContainerConfigError"],
            "cloud": ["EKS", "GKE", "AKS", "a k3s cluster", "minikube"],
        },
        "sticky": ["app", "ns", "cloud"],
        "openers": [
            (
                "{app} in {error}",
                "My {app} pod keeps going into {error} after I deployed version {image_tag}. How do I debug it?",
            ),
            (
                "Zero-downtime deploys",
                "How do I set up a rolling update for {app} on {cloud} so there's zero downtime?",
            ),
            (
                "Exposing {app}",
                "What's the difference between a ClusterIP, NodePort and LoadBalancer service for exposing {app}?",
            ),
            (
                "Resource limits for {app}",
                "How should I choose CPU and memory requests and limits for {app}? It's a Python service.",
            ),
            (
                "Secrets in Kubernetes",
                "What's the right way to pass database credentials to {app} in the {ns} namespace?",
            ),
            ("Autoscaling {app}", "Can you help me set up a HorizontalPodAutoscaler for {app} based on CPU?"),
            ("Ingress with TLS", "How do I put {app} behind an Ingress with a TLS certificate on {cloud}?"),
            ("Helm or Kustomize", "Should we use Helm or Kustomize to manage manifests for about a dozen services?"),
        ],
        "followups": [
            "How do I roll back if the new version is broken?",
            "What does `kubectl describe pod` tell me that the logs don't?",
            "Should readiness and liveness probes hit the same endpoint?",
            "How many replicas would you start with?",
            "Can you show the full YAML?",
            "Is it okay to run this in the default namespace?",
            "The pod is in {error} again. What should I check next?",
            "How do I see the logs from the previous container?",
            "Does this work the same on {cloud}?",
            "How do I limit who can run `kubectl exec` in {ns}?",
        ],
        "points": [
            "Start with `kubectl describe pod` and look at the Events section at the bottom; it usually names the cause.",
            "`kubectl logs <pod> --previous` shows the output of the container that just crashed.",
            "{error} is most often caused by a bad image tag, a missing secret or a failing startup command.",
            "A rolling update with `maxUnavailable: 0` and `maxSurge: 1` keeps the old pods serving until the new ones are ready.",
            "The readiness probe decides when a pod receives traffic, while the liveness probe decides when it gets restarted.",
            "Set requests close to typical usage and limits with some headroom; memory limits that are too tight lead to OOMKilled.",
            "`kubectl rollout undo deployment/{app} -n {ns}` reverts to the previous ReplicaSet.",
            "Store credentials in a Secret and mount them as environment variables or files rather than baking them into the image.",
            "A LoadBalancer service creates a cloud load balancer per service, so an Ingress is cheaper when you have many HTTP services.",
            "The HorizontalPodAutoscaler needs resource requests, because it scales on utilisation relative to the request.",
            "cert-manager can issue and renew Let's Encrypt certificates automatically for your Ingress.",
            "Helm is great for distributing charts, whereas Kustomize is simpler for overlaying environment-specific changes.",
            "Keep each environment in its own namespace and use RBAC roles to restrict access.",
            "Running {replicas} replicas spread across nodes with a PodDisruptionBudget protects you during node upgrades.",
        ],
        "code_p": 0.3,
        "code": [
            (
                "yaml",
                """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  namespace: {ns}
spec:
  replicas: {replicas}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      app: {app}
  template:
    metadata:
      labels:
        app: {app}
    spec:
      containers:
        - name: {app}
          image: registry.example.com/{app}:{image_tag}
          ports:
            - containerPort: {port}
          resources:
            requests:
              cpu: {cpu}
              memory: {mem}
            limits:
              memory: {mem}
          readinessProbe:
            httpGet:
              path: /healthz
              port: {port}""",
            ),
            (
                "bash",
                """kubectl -n {ns} get pods -l app={app}
kubectl -n {ns} describe pod <pod-name>
kubectl -n {ns} logs <pod-name> --previous
kubectl -n {ns} rollout status deployment/{app}""",
            ),
            (
                "yaml",
                """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {app}
  namespace: {ns}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {app}
  minReplicas: {replicas}
  maxReplicas: 20
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70""",
            ),
            (
                "bash",
                r"""kubectl -n {ns} create secret generic {app}-db \
  --from-literal=DB_USER=app \
  --from-literal=DB_PASSWORD='change-me'
kubectl -n {ns} rollout restart deployment/{app}""",
            ),
        ],
        "bullets": [
            "Check the Events section of `kubectl describe pod`",
            "Verify that the image tag exists in the registry",
            "Make sure referenced Secrets and ConfigMaps exist",
            "Compare memory usage with the limit",
            "Run the startup command locally with the same image",
            "Look at `kubectl get events --sort-by=.lastTimestamp`",
        ],
    },
}

TOPICS["redis"] = {
    "work": True,
    "en": {
        "vocab": {
            "data": [
                "user profiles",
                "product pages",
                "API responses",
                "search results",
                "session data",
                "leaderboard scores",
            ],
            "db": ["Postgres", "MySQL", "MongoDB"],
            "ttl": ["60", "300", "900", "3600", "86400"],
            "client": ["redis-py", "ioredis", "Jedis", "go-redis"],
            "qps": ["2k", "15k", "50k", "120k"],
            "maxmem": ["2gb", "4gb", "8gb", "16gb"],
        },
        "sticky": ["data", "db"],
        "openers": [
            ("Caching {data} in Redis", "What's a good pattern for caching {data} from {db} in Redis?"),
            (
                "Redis TTL strategy",
                "How should I pick TTLs for cached {data}? Right now everything uses {ttl} seconds.",
            ),
            ("Cache invalidation", "How do I invalidate the Redis cache when {data} change in {db}?"),
            (
                "Cache stampede",
                "When a popular key expires we get a spike of requests to {db}. How do I prevent a cache stampede?",
            ),
            (
                "Redis memory full",
                "Our Redis instance hit maxmemory ({maxmem}) and started evicting keys. Which eviction policy should we use?",
            ),
            (
                "Rate limiting with Redis",
                "How can I build a simple rate limiter with Redis for an API doing about {qps} requests per second?",
            ),
            ("Redis vs Memcached", "Should we use Redis or Memcached for caching {data}?"),
            ("Redis Cluster", "When does it make sense to move from a single Redis node to Redis Cluster?"),
        ],
        "followups": [
            "What happens if Redis goes down?",
            "Should I store the value as JSON or as a hash?",
            "How do I avoid serving stale data after an update?",
            "Is `KEYS *` safe to run in production?",
            "Can you show it with {client}?",
            "How do I monitor the cache hit rate?",
            "What TTL would you pick for {data}?",
            "Does this work with Redis Cluster?",
            "How much memory will we need at {qps} writes per second?",
        ],
        "points": [
            "The cache-aside pattern is the usual starting point: read from Redis, and on a miss load from {db} and write the value back with a TTL.",
            "Add a little random jitter to TTLs so that many keys don't expire at the same moment.",
            "Delete the cached key after the {db} transaction commits, not before, to avoid caching stale values.",
            "A short lock with `SET key value NX PX 5000` lets a single worker rebuild a hot key while others wait or serve the old value.",
            "`allkeys-lru` is a sensible eviction policy when Redis is used purely as a cache.",
            "Never run `KEYS *` in production; use `SCAN` with a `MATCH` pattern, which iterates incrementally.",
            "Hashes are more memory-efficient than separate string keys when you store many small fields.",
            "A fixed-window rate limiter can be built with `INCR` and `EXPIRE` in a single pipeline.",
            "`INFO stats` reports `keyspace_hits` and `keyspace_misses`, from which you can compute the hit rate.",
            "Your application should treat Redis as optional: if it is unavailable, fall back to {db} and log the error.",
            "Memcached is simpler and multi-threaded, but Redis offers richer data types, persistence and replication.",
            "Redis Cluster shards keys across nodes by hash slot, so multi-key commands need keys in the same slot.",
            "For {data}, a TTL between {ttl} seconds and a few hours is usually a reasonable compromise.",
        ],
        "code_p": 0.35,
        "code": [
            (
                "python",
                """import json
import redis

r = redis.Redis(host="localhost", port=6379, decode_responses=True)

def get_profile(user_id: int) -> dict:
    key = f"user:{user_id}:profile"
    cached = r.get(key)
    if cached is not None:
        return json.loads(cached)
    profile = load_profile_from_db(user_id)
    r.set(key, json.dumps(profile), ex={ttl})
    return profile""",
            ),
            (
                "python",
                """import time

def allow_request(client_ip: str, limit: int = 100) -> bool:
    window = int(time.time() // 60)
    key = f"rate:{client_ip}:{window}"
    pipe = r.pipeline()
    pipe.incr(key)
    pipe.expire(key, 60)
    count, _ = pipe.execute()
    return count <= limit""",
            ),
            (
                "bash",
                """redis-cli CONFIG SET maxmemory {maxmem}
redis-cli CONFIG SET maxmemory-policy allkeys-lru
redis-cli INFO stats | grep keyspace""",
            ),
        ],
        "bullets": [
            "Use cache-aside with a TTL",
            "Add jitter to expiry times",
            "Invalidate after the write commits",
            "Protect hot keys with a short lock",
            "Monitor hit rate and evictions",
            "Use `SCAN` instead of `KEYS`",
        ],
    },
}

TOPICS["elasticsearch"] = {
    "work": True,
    "en": {
        "vocab": {
            "index": ["products", "articles", "support_tickets", "chat_messages", "documents", "recipes"],
            "field": ["title", "description", "body", "tags", "content"],
            "n_docs": ["2 million", "500k", "80 million", "15 million"],
            "analyzer": ["english", "icu_analyzer", "ik_max_word", "smartcn"],
        },
        "sticky": ["index", "field"],
        "openers": [
            (
                "Full-text search on {field}",
                "How do I build a full-text search over the {field} field of my {index} index that ranks exact phrases higher?",
            ),
            (
                "Slow Elasticsearch queries",
                "Queries against {index} ({n_docs} documents) got slow after we added more fields. Where do I start?",
            ),
            ("Mapping for {field}", "Should {field} in the {index} index be mapped as `text`, `keyword`, or both?"),
            (
                "Chinese text in Elasticsearch",
                "Searching Chinese text in {index} returns weird results. Which analyzer should I use?",
            ),
            ("Pagination beyond 10k", "How do I paginate past 10,000 results in Elasticsearch?"),
            ("Fuzzy search", "How can I make search on {field} tolerant of typos?"),
            ("Reindexing safely", "I need to change the mapping of {index}. How do I reindex without downtime?"),
            ("Autocomplete", "What's the best way to implement search-as-you-type autocomplete on {field}?"),
        ],
        "followups": [
            "How do I boost matches in {field} over other fields?",
            "What's the difference between `match` and `match_phrase`?",
            "How many shards should {index} have?",
            "Can you write that as a Python client call?",
            "How do I highlight the matched terms?",
            "Is `query_string` safe to expose to end users?",
            "Would the {analyzer} analyzer help here?",
            "How do I test what the analyzer does to a string?",
            "What about filtering by date range as well?",
        ],
        "points": [
            'A `multi_match` query with `"fields": ["{field}^3", "body"]` boosts matches in {field} three times.',
            "Map {field} as `text` for full-text search and add a `keyword` sub-field for sorting and aggregations.",
            "`match_phrase` requires the terms in order, so adding it as a `should` clause rewards exact phrases without excluding other hits.",
            "Deep pagination with `from` and `size` is capped at 10,000; use `search_after` with a point-in-time instead.",
            '`"fuzziness": "AUTO"` allows one or two edits depending on term length, which covers most typos.',
            "Reindex into a new index, then switch an alias atomically so clients never notice the change.",
            "The `_analyze` API shows exactly which tokens an analyzer produces for a given string.",
            "For Chinese, the standard analyzer splits text into single characters; a dictionary-based analyzer such as IK or smartcn produces real words.",
            "Don't pass user input to `query_string` directly, because syntax errors and expensive wildcards can hurt the cluster; `simple_query_string` is more forgiving.",
            "Aim for shards between 10 and 50 GB; for {n_docs} documents a handful of primary shards is usually enough.",
            "Put non-scoring conditions such as date ranges in a `filter` clause so they can be cached.",
            'The profile API (`"profile": true`) breaks down where the query spends its time.',
            "An `edge_ngram` analyzer or the `search_as_you_type` field type is the usual way to build autocomplete.",
        ],
        "code_p": 0.3,
        "code": [
            (
                "json",
                """{
  "query": {
    "bool": {
      "must": {
        "multi_match": {
          "query": "wireless headphones",
          "fields": ["{field}^3", "body"],
          "fuzziness": "AUTO"
        }
      },
      "should": {
        "match_phrase": { "{field}": "wireless headphones" }
      },
      "filter": {
        "range": { "created_at": { "gte": "now-30d/d" } }
      }
    }
  },
  "highlight": { "fields": { "{field}": {} } }
}""",
            ),
            (
                "python",
                """from elasticsearch import Elasticsearch

es = Elasticsearch("http://localhost:9200")
resp = es.search(
    index="{index}",
    query={"match": {"{field}": {"query": user_input, "operator": "and"}}},
    size=20,
)
for hit in resp["hits"]["hits"]:
    print(hit["_score"], hit["_source"]["{field}"])""",
            ),
            (
                "bash",
                """curl -X POST "localhost:9200/_reindex" -H 'Content-Type: application/json' -d '
{ "source": { "index": "{index}_v1" }, "dest": { "index": "{index}_v2" } }'
curl -X POST "localhost:9200/_aliases" -H 'Content-Type: application/json' -d '
{ "actions": [
  { "remove": { "index": "{index}_v1", "alias": "{index}" } },
  { "add": { "index": "{index}_v2", "alias": "{index}" } }
] }\'""",
            ),
        ],
        "bullets": [
            "Use `filter` for non-scoring clauses",
            "Avoid leading wildcards",
            "Check the mapping with `GET {index}/_mapping`",
            "Profile slow queries",
            "Keep shard sizes reasonable",
            "Use aliases for zero-downtime reindexing",
        ],
    },
}

TOPICS["cooking"] = {
    "work": False,
    "en": {
        "vocab": {
            "dish": [
                "lasagna",
                "chicken curry",
                "sourdough bread",
                "beef stew",
                "pad thai",
                "mushroom risotto",
                "banana bread",
                "ramen",
                "shakshuka",
                "chocolate chip cookies",
            ],
            "ingredient": [
                "garlic",
                "ginger",
                "butter",
                "coconut milk",
                "miso",
                "parmesan",
                "fresh basil",
                "smoked paprika",
                "soy sauce",
                "lemon zest",
            ],
            "people": ["2", "4", "6", "8", "12"],
            "minutes": ["20", "30", "45", "60"],
            "appliance": ["air fryer", "slow cooker", "Instant Pot", "cast-iron pan", "Dutch oven"],
            "diet": ["vegetarian", "vegan", "gluten-free", "dairy-free", "low-carb"],
        },
        "sticky": ["dish"],
        "openers": [
            ("{dish} recipe", "Can you give me a simple {dish} recipe for {people} people?"),
            ("Quick weeknight dinner", "I have {minutes} minutes and some {ingredient}. What can I cook tonight?"),
            ("Making {dish} {diet}", "How can I make {dish} {diet} without it tasting bland?"),
            ("{dish} in the {appliance}", "Can I make {dish} in a {appliance}? How would the timing change?"),
            ("Substitute for {ingredient}", "I ran out of {ingredient}. What can I use instead in {dish}?"),
            ("Meal prep ideas", "I want to meal prep lunches for the week. Any ideas that reheat well?"),
            ("Why my {dish} failed", "My {dish} came out dry last time. What went wrong?"),
            (
                "Dinner party menu",
                "I'm hosting {people} friends on Saturday. Can you suggest a menu built around {dish}?",
            ),
        ],
        "followups": [
            "How long does it keep in the fridge?",
            "Can I freeze it?",
            "What side dish goes well with it?",
            "Can I prepare part of it the day before?",
            "What if I don't have a {appliance}?",
            "How do I scale it up for {people} people?",
            "Is there a way to make it less spicy for kids?",
            "What drink would pair with {dish}?",
            "Can I add {ingredient} to it?",
        ],
        "points": [
            "Brown the aromatics first; a few extra minutes of gentle cooking builds a lot of flavour.",
            "Season in layers and taste at the end, because salt and acidity are what make a dish taste finished.",
            "{ingredient} adds depth, but add it gradually so it doesn't overpower the rest.",
            "Most stews and curries taste even better the next day, so they are ideal for making ahead.",
            "Cooked leftovers keep for three to four days in the fridge in an airtight container.",
            "In a {appliance}, reduce the liquid slightly, since less of it evaporates.",
            "Dryness usually comes from overcooking, so check it a little earlier than the recipe says.",
            "For {people} people, plan on roughly 150 to 200 grams of the main ingredient per person.",
            "A squeeze of lemon or a splash of vinegar right before serving brightens heavy dishes.",
            "Let meat rest for a few minutes after cooking so the juices redistribute.",
            "Freeze portions flat in bags; they thaw faster and stack neatly.",
            "A crisp green salad or roasted vegetables balance a rich main course.",
        ],
        "code_p": 0.0,
        "code": [],
        "bullets": [
            "2 tablespoons olive oil",
            "1 onion, finely chopped",
            "3 cloves garlic, minced",
            "400 g canned tomatoes",
            "1 teaspoon {ingredient}",
            "Salt and black pepper to taste",
            "A handful of fresh herbs to finish",
            "250 ml stock",
        ],
        "bullet_leads": ["You will need:", "Ingredients:", "The basics:"],
        "bullet_p": 0.35,
    },
    "zh": {
        "vocab": {
            "dish": [
                "红烧肉",
                "宫保鸡丁",
                "番茄炒蛋",
                "麻婆豆腐",
                "糖醋排骨",
                "水煮鱼",
                "葱油拌面",
                "蛋炒饭",
                "可乐鸡翅",
                "酸菜鱼",
            ],
            "ingredient": ["生抽", "老抽", "料酒", "豆瓣酱", "花椒", "冰糖", "蚝油", "香醋", "姜片", "蒜末"],
            "people": ["两", "三", "四", "六"],
            "time": ["十五分钟", "半小时", "四十分钟", "一个小时"],
            "appliance": ["空气炸锅", "电饭煲", "高压锅", "烤箱", "平底锅"],
        },
        "sticky": ["dish"],
        "openers": [
            ("{dish}的做法", "{dish}怎么做才好吃？请给我一个{people}个人份量的做法。"),
            ("快手晚餐", "下班回家只有{time}，冰箱里有鸡蛋和青菜，能做什么菜？"),
            ("{dish}不油腻的秘诀", "{dish}总是做得太油太腻，有什么办法改进吗？"),
            ("用{appliance}做{dish}", "可以用{appliance}做{dish}吗？时间和温度怎么控制？"),
            ("{ingredient}的替代品", "家里没有{ingredient}了，做{dish}可以用什么代替？"),
            ("一周带饭菜单", "想每天带饭上班，有哪些适合提前做好、加热后也好吃的菜？"),
            ("家宴菜单", "周末家里来{people}位客人，能帮我搭配一桌家常菜吗？"),
        ],
        "followups": [
            "做好的菜能放冰箱保存几天？",
            "可以提前一天准备吗？",
            "不吃辣的话怎么调整？",
            "需要先焯水吗？",
            "火候应该怎么掌握？",
            "有没有更健康、少油的做法？",
            "配什么主食比较好？",
            "用{appliance}可以吗？",
        ],
        "points": [
            "肉类先焯水去掉血沫，做出来的味道会更干净。",
            "炒糖色时要用小火，颜色变成琥珀色就可以下肉了，火大了容易发苦。",
            "{ingredient}可以提味，但要少量多次地加，避免味道过重。",
            "调味最好分几次进行，出锅前再尝一下咸淡。",
            "想要不腻，可以加一点香醋，或者搭配清爽的凉拌菜。",
            "用{appliance}的话，水要比平时少放一些，因为水分不容易蒸发。",
            "做好的菜密封放冰箱冷藏，一般可以保存两到三天。",
            "不吃辣的话，可以把豆瓣酱换成甜面酱，花椒减半。",
            "大火快炒能保持蔬菜的脆嫩口感，出锅前再放盐。",
            "炖肉的时候一次加足热水，中途加冷水会让肉变柴。",
            "{dish}配一碗米饭和一道清炒时蔬就很完整了。",
        ],
        "code_p": 0.0,
        "code": [],
        "bullets": [
            "五花肉 500 克",
            "冰糖 20 克",
            "生抽两勺、老抽半勺",
            "料酒一勺",
            "姜片和葱段适量",
            "八角两个",
            "清水没过食材",
        ],
        "bullet_leads": ["需要准备：", "材料：", "基本配料："],
        "bullet_p": 0.35,
    },
}

TOPICS["travel"] = {
    "work": False,
    "en": {
        "vocab": {
            "city": [
                "Kyoto",
                "Lisbon",
                "Barcelona",
                "Istanbul",
                "Marrakech",
                "Reykjavik",
                "Hanoi",
                "Vancouver",
                "Prague",
                "Seoul",
            ],
            "days": ["3", "4", "5", "7", "10"],
            "budget": ["$800", "$1,500", "$2,500", "€1,200"],
            "month": ["March", "May", "September", "October", "December"],
            "companions": ["solo", "with my partner", "with two kids", "with friends", "with my parents"],
            "interest": ["food markets", "museums", "hiking", "architecture", "nightlife", "photography"],
        },
        "sticky": ["city", "month", "companions"],
        "openers": [
            ("{days} days in {city}", "I'm spending {days} days in {city} in {month}. Can you suggest an itinerary?"),
            ("{city} on a budget", "How can I visit {city} {companions} on a budget of about {budget}?"),
            (
                "Best time to visit {city}",
                "When is the best time of year to visit {city}? I care most about {interest}.",
            ),
            ("Packing list for {city}", "What should I pack for a {days}-day trip to {city} in {month}?"),
            ("Getting around {city}", "What's the easiest way to get around {city} without a car?"),
            (
                "Where to stay in {city}",
                "We're travelling {companions} to {city}. Which neighbourhood should we stay in?",
            ),
            ("Day trips from {city}", "What are good day trips from {city}?"),
        ],
        "followups": [
            "Is it walkable?",
            "How many days would you spend there if I only have a week in total?",
            "What local dishes should I try?",
            "Do I need to book anything in advance?",
            "Is it safe to walk around at night?",
            "Could you make the itinerary more relaxed?",
            "What's a realistic daily budget there?",
            "Any tips for avoiding the crowds?",
            "What's the weather like in {month}?",
        ],
        "points": [
            "Group sights by neighbourhood so you aren't crossing the city several times a day.",
            "In {month} it's worth booking popular museums and restaurants a week or two ahead.",
            "Public transport passes usually pay for themselves if you take three or more rides a day.",
            "Leave one afternoon unplanned; it's often the part of the trip people remember most.",
            "For {interest}, mornings are the quietest time to go.",
            "Divide your total budget by the number of days to get a simple daily spending cap.",
            "Staying near a metro or tram line matters more than being right in the historic centre.",
            "Carry a little cash, since some small shops and markets don't take cards.",
            "Travelling {companions}, a base with a kitchen or a lounge area makes evenings easier.",
            "Check the opening days of major sights, because many close on Mondays.",
            "Travel insurance that covers cancellations is worth it for longer trips.",
            "Comfortable walking shoes are the single most important thing to pack.",
        ],
        "code_p": 0.0,
        "code": [],
        "bullets": [
            "Day 1: old town walk and a food market",
            "Day 2: main museum in the morning, viewpoint at sunset",
            "Day 3: day trip by train",
            "Day 4: neighbourhood cafés and shopping",
            "Day 5: hike or a slow morning, then departure",
            "Evening: try a local tasting menu",
        ],
        "bullet_leads": ["A possible plan:", "Rough itinerary:"],
        "bullet_p": 0.3,
    },
    "zh": {
        "vocab": {
            "city": ["成都", "西安", "厦门", "大理", "杭州", "东京", "清迈", "青岛", "桂林", "哈尔滨"],
            "days": ["三", "四", "五", "七"],
            "month": ["三月", "五月", "国庆", "十月", "十二月", "春节"],
            "budget": ["三千元", "五千元", "八千元", "一万元"],
            "companions": ["一个人", "和家人", "带孩子", "和朋友", "带父母"],
            "interest": ["美食", "博物馆", "爬山", "拍照", "古建筑"],
        },
        "sticky": ["city", "month", "companions"],
        "openers": [
            ("{city}{days}日游", "我打算{month}去{city}玩{days}天，能帮我规划一下行程吗？"),
            ("{city}省钱攻略", "{companions}去{city}，预算{budget}左右，怎么安排比较划算？"),
            ("去{city}的最佳时间", "什么时候去{city}最合适？我对{interest}比较感兴趣。"),
            ("{city}住哪里方便", "第一次去{city}，住在哪个区域交通比较方便？"),
            ("行李清单", "{month}去{city}玩{days}天，需要带哪些东西？"),
            ("{city}周边游", "{city}周边有哪些适合一日游的地方？"),
        ],
        "followups": [
            "交通怎么安排比较方便？",
            "有哪些必吃的当地美食？",
            "需要提前预订门票吗？",
            "行程能不能安排得轻松一点？",
            "每天大概要花多少钱？",
            "{month}的天气怎么样？",
            "带老人的话要注意什么？",
            "怎么避开人多的时间？",
        ],
        "points": [
            "建议把同一个区域的景点安排在同一天，减少来回奔波的时间。",
            "{month}是旅游旺季，热门景点和酒店最好提前一到两周预订。",
            "城市里坐地铁和公交最方便，可以提前下载当地的交通应用。",
            "每天留出半天自由活动的时间，旅行会轻松很多。",
            "{companions}出行，选择交通方便、周边有餐馆的酒店会更省心。",
            "预算{budget}的话，住宿大概占三分之一，餐饮和门票各占一部分。",
            "如果对{interest}感兴趣，可以早上出发，避开人流高峰。",
            "很多博物馆周一闭馆，出发前要确认开放时间。",
            "当地的小吃街和菜市场是体验美食最好的地方。",
            "记得带好身份证件、充电宝和常用药品。",
        ],
        "code_p": 0.0,
        "code": [],
        "bullets": [
            "第一天：老城区步行，晚上逛夜市",
            "第二天：上午参观博物馆，下午去公园",
            "第三天：周边一日游",
            "第四天：美食探店和购物",
            "最后一天：睡个懒觉，整理行李返程",
        ],
        "bullet_leads": ["可以参考这样的安排：", "行程建议："],
        "bullet_p": 0.3,
    },
}

TOPICS["machine_learning"] = {
    "work": True,
    "en": {
        "vocab": {
            "model_type": [
                "random forest",
                "gradient boosting model",
                "logistic regression",
                "small transformer",
                "XGBoost model",
                "LSTM",
            ],
            "task": [
                "churn prediction",
                "fraud detection",
                "sentiment classification",
                "demand forecasting",
                "image classification",
                "spam filtering",
            ],
            "metric": ["accuracy", "F1 score", "ROC AUC", "RMSE", "precision", "recall"],
            "n_samples": ["5,000", "40k", "1.2 million", "300k"],
            "ratio": ["1:20", "1:100", "1:9", "1:50"],
            "framework": ["scikit-learn", "PyTorch", "XGBoost", "LightGBM", "TensorFlow"],
        },
        "sticky": ["task", "model_type"],
        "openers": [
            (
                "{task} model",
                "I'm building a {task} model with {n_samples} samples. Should I start with a {model_type}?",
            ),
            ("Imbalanced classes", "My dataset for {task} is imbalanced, about {ratio}. How should I handle that?"),
            (
                "Overfitting {model_type}",
                "My {model_type} gets great training {metric} but much worse on the validation set. What's going on?",
            ),
            ("Choosing a metric", "Which metric should I report for {task}: {metric} or something else?"),
            (
                "Hyperparameter tuning",
                "What's an efficient way to tune hyperparameters for a {model_type} in {framework}?",
            ),
            ("Feature importance", "How can I explain which features drive my {model_type}'s predictions?"),
            (
                "Cross-validation for time series",
                "Is normal k-fold cross-validation okay for {task} when the data is ordered in time?",
            ),
            (
                "Fine-tuning vs prompting",
                "For {task}, should I fine-tune a small model or just prompt a large language model?",
            ),
        ],
        "followups": [
            "How do I know if I have enough data?",
            "Should I scale the features first?",
            "Can you show it in {framework}?",
            "What learning rate would you start with?",
            "How do I pick the decision threshold?",
            "Would more features help or hurt?",
            "How do I avoid data leakage here?",
            "What baseline should I compare against?",
            "How long should training take on {n_samples} samples?",
        ],
        "points": [
            "Start with a simple baseline so you know what improvement the {model_type} actually brings.",
            "A large gap between training and validation {metric} is the classic sign of overfitting.",
            "Regularisation, early stopping and more data are the usual remedies for overfitting.",
            "With a {ratio} class ratio, accuracy is misleading; precision, recall and PR AUC tell you much more.",
            "Class weights or resampling can help, but tune the decision threshold on a validation set as well.",
            "Fit scalers and encoders inside a pipeline so that no information from the validation fold leaks into training.",
            "For time-ordered data, use `TimeSeriesSplit` or a rolling-origin evaluation instead of shuffled k-fold.",
            "Random search or Bayesian optimisation usually finds good hyperparameters faster than a full grid search.",
            "Permutation importance and SHAP values are more reliable than the built-in impurity-based importances.",
            "Tree-based models don't need feature scaling, but linear models and neural networks do.",
            "Keep a final test set untouched until the very end so your reported {metric} is honest.",
            "For {task}, prompting a large model is a quick baseline, while fine-tuning a small one is cheaper at scale.",
            "A learning rate of 1e-3 with Adam, or 2e-5 when fine-tuning a transformer, is a reasonable starting point.",
        ],
        "code_p": 0.35,
        "code": [
            (
                "python",
                """from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.linear_model import LogisticRegression

model = make_pipeline(
    StandardScaler(),
    LogisticRegression(class_weight="balanced", max_iter=1000),
)
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
scores = cross_val_score(model, X, y, cv=cv, scoring="f1")
print(f"F1: {scores.mean():.3f} ± {scores.std():.3f}")""",
            ),
            (
                "python",
                """from sklearn.model_selection import TimeSeriesSplit

tscv = TimeSeriesSplit(n_splits=5)
for fold, (train_idx, test_idx) in enumerate(tscv.split(X)):
    model.fit(X[train_idx], y[train_idx])
    print(fold, model.score(X[test_idx], y[test_idx]))""",
            ),
            (
                "python",
                """from sklearn.inspection import permutation_importance

result = permutation_importance(model, X_val, y_val, n_repeats=10, random_state=0)
for idx in result.importances_mean.argsort()[::-1][:10]:
    print(f"{feature_names[idx]:<25} {result.importances_mean[idx]:.4f}")""",
            ),
        ],
        "bullets": [
            "Establish a simple baseline",
            "Use a stratified split",
            "Track the right metric",
            "Check for leakage",
            "Tune the decision threshold",
            "Keep a held-out test set",
        ],
    },
    "zh": {
        "vocab": {
            "task": ["用户流失预测", "垃圾短信识别", "销量预测", "情感分析", "图像分类", "信用评分"],
            "model_type": ["随机森林", "逻辑回归", "XGBoost", "神经网络", "LightGBM"],
            "metric": ["准确率", "召回率", "F1 值", "AUC", "均方误差"],
            "n_samples": ["五千", "两万", "十万", "一百万"],
            "framework": ["scikit-learn", "PyTorch", "TensorFlow", "PaddlePaddle"],
        },
        "sticky": ["task", "model_type"],
        "openers": [
            ("{task}模型选择", "我在做{task}，有{n_samples}条样本，应该先用{model_type}还是别的模型？"),
            ("过拟合问题", "我的{model_type}模型在训练集上效果很好，但是在验证集上{metric}很差，这是过拟合吗？"),
            ("样本不均衡", "{task}的数据正负样本比例大概是一比五十，应该怎么处理样本不均衡？"),
            ("评估指标选择", "做{task}应该看{metric}还是其他指标？"),
            ("超参数调优", "用{framework}训练{model_type}，超参数怎么调比较高效？"),
            ("特征工程", "{task}的特征工程一般怎么做？有哪些常用的方法？"),
            ("大模型还是小模型", "做{task}，是微调一个小模型好，还是直接用大语言模型写提示词好？"),
        ],
        "followups": [
            "数据量多少才够训练？",
            "特征需要先做标准化吗？",
            "能用{framework}写个例子吗？",
            "学习率一般设多少合适？",
            "怎么避免数据泄露？",
            "分类阈值应该怎么选？",
            "模型上线以后效果下降了怎么办？",
            "有没有简单的基线模型可以对比？",
            "训练需要多长时间？",
        ],
        "points": [
            "建议先做一个简单的基线模型，这样才能知道{model_type}到底带来了多少提升。",
            "训练集和验证集的{metric}差距很大，通常说明模型过拟合了。",
            "解决过拟合的常用方法包括正则化、提前停止、增加数据和简化模型。",
            "样本不均衡时准确率没有参考价值，应该关注召回率、精确率和 PR 曲线。",
            "可以使用类别权重或者重采样，同时在验证集上调整分类阈值。",
            "标准化和编码要放在流水线里，只在训练集上拟合，避免数据泄露。",
            "时间序列数据不能随机打乱划分，应该按时间顺序切分训练集和测试集。",
            "随机搜索或者贝叶斯优化通常比网格搜索更快找到好的超参数。",
            "树模型不需要特征标准化，但线性模型和神经网络需要。",
            "最终的测试集要一直留到最后再用，这样报告的{metric}才可信。",
            "模型上线后要持续监控数据分布，发现数据漂移就需要重新训练。",
            "对于{task}，大模型提示词可以快速做出基线，小模型微调在大规模调用时成本更低。",
            "特征工程常用的方法有分箱、交叉特征、时间窗口统计和文本向量化。",
        ],
        "code_p": 0.3,
        "code": [
            (
                "python",
                """from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.metrics import classification_report

# 划分训练集和测试集，保持类别比例
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, stratify=y, random_state=42
)

model = RandomForestClassifier(n_estimators=300, class_weight="balanced", random_state=42)
model.fit(X_train, y_train)
print(classification_report(y_test, model.predict(X_test)))""",
            ),
            (
                "python",
                """import torch
from torch import nn

# 一个简单的两层神经网络，加上 Dropout 防止过拟合
model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 2))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
loss_fn = nn.CrossEntropyLoss()""",
            ),
        ],
        "bullets": [
            "先建立基线模型",
            "划分训练集、验证集和测试集",
            "选择合适的评估指标",
            "检查数据泄露",
            "记录每次实验的参数和结果",
        ],
    },
}

TOPICS["writing"] = {
    "work": False,
    "en": {
        "vocab": {
            "doc": [
                "cover letter",
                "blog post",
                "product announcement",
                "conference abstract",
                "wedding speech",
                "performance review",
                "README",
                "grant proposal",
            ],
            "audience": ["hiring managers", "engineers", "customers", "my team", "a general audience", "reviewers"],
            "words": ["150", "300", "500", "800"],
            "tone": ["friendlier", "more formal", "more concise", "more confident", "less salesy"],
        },
        "sticky": ["doc", "audience"],
        "openers": [
            ("Improving my {doc}", "Can you help me improve the opening paragraph of my {doc}? It's for {audience}."),
            ("{doc} outline", "I need to write a {words}-word {doc}. Can you suggest an outline?"),
            (
                "Making text {tone}",
                'Could you make this paragraph {tone}? "We are excited to announce that our new platform enables teams to leverage synergies across workflows."',
            ),
            (
                "Title ideas",
                "Can you suggest a few titles for a {doc} about moving our search from SQL LIKE queries to Elasticsearch?",
            ),
            ("Grammar check", 'Is this sentence correct: "Each of the engineers have their own laptop"?'),
            (
                "Shortening my {doc}",
                "My {doc} is about 30% too long. How do I cut it down without losing the key points?",
            ),
        ],
        "followups": [
            "Can you make it a bit shorter?",
            "Could you give me two alternative versions?",
            "Is the tone right for {audience}?",
            "Should I use bullet points or prose here?",
            "Can you make it {tone}?",
            "How should I end it?",
            'Is "utilize" ever better than "use"?',
            "What would you cut first?",
        ],
        "points": [
            "Lead with the most important point; {audience} often decide within the first two sentences whether to keep reading.",
            'Replace abstract words such as "leverage" and "synergies" with concrete verbs and examples.',
            "Shorter sentences read as more confident, so split anything longer than about 25 words.",
            "For a {words}-word {doc}, three sections with one clear idea each is usually enough.",
            '"Each" is singular, so the correct form is "Each of the engineers has their own laptop".',
            'Cut adverbs and hedges like "very", "really" and "just" first; they rarely add meaning.',
            "End with a specific next step or call to action rather than a general summary.",
            "Reading the text aloud is the quickest way to find clumsy phrasing.",
            "Bullet points work for lists of parallel items, while prose is better for arguments and stories.",
            "A {tone} version would drop the jargon and address the reader directly.",
            'Here is a tighter version: "Our new platform helps teams share work without extra meetings."',
            'One option for a title: "From LIKE to Lucene: What We Learned Rebuilding Search".',
        ],
        "code_p": 0.0,
        "code": [],
        "bullets": [
            "Start with the outcome, not the background",
            "Use one idea per paragraph",
            "Prefer active voice",
            "Cut filler words",
            "Finish with a clear call to action",
        ],
    },
}

TOPICS["database"] = {
    "work": True,
    "en": {
        "vocab": {
            "table": ["orders", "sessions", "messages", "users", "events", "invoices"],
            "column": ["created_at", "user_id", "status", "email", "session_id", "name"],
            "db": ["PostgreSQL", "MySQL", "SQLite"],
            "rows": ["5 million", "80 million", "300k", "1.5 billion"],
            "ms": ["800 ms", "3 seconds", "12 seconds", "400 ms"],
        },
        "sticky": ["table", "db"],
        "openers": [
            (
                "Slow query on {table}",
                "A query on the {table} table ({rows} rows) filtering by {column} takes {ms} in {db}. How do I speed it up?",
            ),
            (
                "Which index to add",
                "Which index should I add for `WHERE user_id = ? ORDER BY created_at DESC LIMIT 20` on {table}?",
            ),
            (
                "Preventing SQL injection",
                "How do I make sure our search box isn't vulnerable to SQL injection in {db}?",
            ),
            ("Schema for chat messages", "What's a good schema for storing chat sessions and messages in {db}?"),
            (
                "Migrations without downtime",
                "How do I add a NOT NULL column to {table} without locking it for a long time?",
            ),
            (
                "Full-text search in {db}",
                "Can {db} handle full-text search on the {column} column, or do we need Elasticsearch?",
            ),
            (
                "Connection pool errors",
                "We get 'too many connections' errors from {db} under load. What should we change?",
            ),
        ],
        "followups": [
            "How do I check whether the index is actually used?",
            "Would a composite index be better?",
            "Does the column order in the index matter?",
            "How big will the index be for {rows} rows?",
            "Can you show the migration?",
            "What about using an ORM instead of raw SQL?",
            "Should I partition {table} by month?",
            "Is `LIKE '%term%'` ever able to use an index?",
        ],
        "points": [
            "Run `EXPLAIN ANALYZE` and look for sequential scans on {table}; they are the usual culprit.",
            "A composite index on `(user_id, created_at DESC)` serves both the filter and the sort, so {db} can stop after 20 rows.",
            "Column order matters: put the equality columns first and the range or sort column last.",
            "Always pass user input as query parameters; the driver sends it separately from the SQL text, so it can never change the statement.",
            "Never build SQL with string concatenation or f-strings, even for values that look harmless.",
            "Adding a nullable column, backfilling in batches and then adding the NOT NULL constraint avoids long locks.",
            "`LIKE '%term%'` cannot use a normal B-tree index, but a trigram index in PostgreSQL can.",
            "PostgreSQL's built-in full-text search with a GIN index is good enough for many applications before you need Elasticsearch.",
            "A connection pool such as PgBouncer keeps the number of server connections bounded.",
            "Store messages in their own table with a foreign key to the session and an index on `(session_id, created_at)`.",
            "Partitioning by month helps when you regularly drop old data, but it adds complexity to every query.",
            "Indexes speed up reads but slow down writes, so only add the ones your queries actually need.",
        ],
        "code_p": 0.35,
        "code": [
            (
                "sql",
                """CREATE INDEX CONCURRENTLY idx_{table}_user_created
    ON {table} (user_id, created_at DESC);

EXPLAIN ANALYZE
SELECT *
FROM {table}
WHERE user_id = 42
ORDER BY created_at DESC
LIMIT 20;""",
            ),
            (
                "python",
                r"""import sqlite3

conn = sqlite3.connect("workbench.db")
term = request.args.get("q", "")
pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
rows = conn.execute(
    "SELECT session_id, name FROM sessions WHERE name LIKE ? ESCAPE '\\' ORDER BY created_at DESC",
    (pattern,),
).fetchall()""",
            ),
            (
                "sql",
                """CREATE TABLE sessions (
    session_id  UUID PRIMARY KEY,
    user_id     TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '对话',
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE messages (
    id          BIGSERIAL PRIMARY KEY,
    session_id  UUID NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_messages_session ON messages (session_id, created_at);""",
            ),
        ],
        "bullets": [
            "Run `EXPLAIN ANALYZE` first",
            "Index the columns in your `WHERE` and `ORDER BY`",
            "Use parameterised queries everywhere",
            "Add constraints in a separate step",
            "Put a connection pool in front of the database",
        ],
    },
    "zh": {
        "vocab": {
            "table|tname": [
                ("订单表", "orders"),
                ("用户表", "users"),
                ("日志表", "logs"),
                ("消息表", "messages"),
                ("会话表", "sessions"),
            ],
            "db": ["MySQL", "PostgreSQL"],
            "rows": ["一百万", "五千万", "三亿", "两千万"],
            "ms": ["三秒", "十几秒", "八百毫秒", "半分钟"],
        },
        "sticky": ["table", "db"],
        "openers": [
            ("{table}慢查询优化", "{db}里{table}有{rows}条数据，按时间范围查询要{ms}，怎么优化？"),
            ("索引怎么建", "经常按用户 ID 查询并按创建时间排序，{table}应该建什么样的索引？"),
            ("缓存和数据库一致性", "用 Redis 做缓存，怎么保证缓存和数据库的数据一致？"),
            ("缓存穿透和雪崩", "什么是缓存穿透、缓存击穿和缓存雪崩？分别怎么解决？"),
            ("防止 SQL 注入", "后端是用 Python 写的，怎么防止 SQL 注入？"),
            ("要不要分库分表", "{table}数据量到了{rows}，需要分库分表吗？"),
            ("中文全文检索", "{db}能做中文全文检索吗？还是需要 Elasticsearch？"),
            ("事务隔离级别", "{db}的事务隔离级别有什么区别？默认是哪一种？"),
        ],
        "followups": [
            "怎么确认查询有没有用上索引？",
            "联合索引的字段顺序有影响吗？",
            "索引建多了会有什么问题？",
            "缓存的过期时间设多少合适？",
            "能给一个具体的 SQL 例子吗？",
            "{db}和 Elasticsearch 怎么配合使用？",
            "分区表和分表有什么区别？",
            "数据库连接数不够怎么办？",
        ],
        "points": [
            "先用 `EXPLAIN` 查看执行计划，确认是否走了索引，有没有全表扫描。",
            "联合索引遵循最左前缀原则，等值查询的字段放前面，范围查询和排序的字段放后面。",
            "索引能加快查询，但会降低写入速度，也会占用额外的存储空间。",
            "常见的做法是先更新数据库，再删除缓存，这样可以减少脏数据。",
            "缓存穿透可以用布隆过滤器或者缓存空值来解决。",
            "缓存雪崩是大量缓存同时过期导致的，给过期时间加上随机值就能缓解。",
            "热点数据的缓存击穿可以用互斥锁，保证只有一个请求去查询数据库。",
            "防止 SQL 注入最可靠的方法是使用参数化查询，不要用字符串拼接 SQL。",
            "{table}到了{rows}条时，先考虑优化索引和归档历史数据，再考虑分库分表。",
            "中文全文检索需要分词，{db}自带的功能比较有限，数据量大时建议配合 Elasticsearch 使用。",
            "MySQL 默认的隔离级别是可重复读，PostgreSQL 默认是读已提交。",
            "连接数不够时可以引入连接池，并检查是否有慢查询长时间占用连接。",
        ],
        "code_p": 0.3,
        "code": [
            (
                "sql",
                """-- 为常用查询建立联合索引
CREATE INDEX idx_{tname}_user_created ON {tname} (user_id, created_at);

-- 查看执行计划
EXPLAIN SELECT id, status, created_at
FROM {tname}
WHERE user_id = 1001
ORDER BY created_at DESC
LIMIT 20;""",
            ),
            (
                "python",
                """import pymysql

conn = pymysql.connect(host="127.0.0.1", user="app", password="***", database="shop")
with conn.cursor() as cur:
    # 使用参数化查询，防止 SQL 注入
    cur.execute("SELECT id, name FROM users WHERE name = %s", (user_input,))
    rows = cur.fetchall()""",
            ),
            (
                "python",
                """import json
import random

def get_order(order_id):
    key = f"order:{order_id}"
    cached = r.get(key)
    if cached:
        return json.loads(cached)
    order = db.query_order(order_id)
    # 过期时间加上随机值，防止缓存雪崩
    r.set(key, json.dumps(order, ensure_ascii=False), ex=600 + random.randint(0, 120))
    return order""",
            ),
        ],
        "bullets": [
            "用 EXPLAIN 分析执行计划",
            "为高频查询建立合适的索引",
            "避免 SELECT *",
            "大表数据定期归档",
            "热点数据加缓存",
        ],
    },
}

# Tricky-but-valid exchanges: each becomes the first exchange of the first session that
# matches its (topic, language), so downstream code sees them in real data.
SPECIALS: list[dict[str, Any]] = [
    {
        "topic": "elasticsearch",
        "lang": "en",
        "title": 'Lucene syntax: title:(foo OR bar) AND "x"',
        "bind": {},
        "user": 'Users type things like `title:(foo OR bar) AND "x"` into our search box and sometimes get a parse error. Should I pass that straight to `query_string`?',
        "assistant": "That input is Lucene query syntax, so `query_string` will interpret the field name, the parentheses, the boolean operators and the quotes. Passing raw user input to `query_string` lets people query fields you did not intend and can trigger parse errors or expensive queries. Use a `match` query or `simple_query_string`, which treat the text as plain search terms, and pass it as a value in the request body rather than building the JSON by string concatenation. If you do want to support advanced syntax, restrict the fields with the `fields` parameter and catch parse errors.",
    },
    {
        "topic": "database",
        "lang": "en",
        "title": "Is '; DROP TABLE sessions; -- safe?",
        "bind": {"table": "sessions"},
        "user": "Someone typed `'; DROP TABLE sessions; --` into the session name field. Nothing broke, but how can I be sure we're safe?",
        "assistant": 'That string is a classic SQL injection probe: the quote tries to close a string literal and `--` comments out the rest of the statement. If your code uses parameterised queries, such as `cur.execute("UPDATE sessions SET name = %s WHERE session_id = %s", (name, session_id))`, the driver sends the value separately from the SQL, so it is stored as a harmless name. Search the codebase for f-strings, `%` formatting or `+` concatenation used to build SQL. You can also add a test that saves exactly this string and reads it back unchanged.',
    },
    {
        "topic": "travel",
        "lang": "en",
        "title": "Arabic greetings: مرحبا",
        "bind": {"city": "Marrakech"},
        "user": "I'm visiting Marrakech soon. A friend taught me 'مرحبا، كيف حالك؟' - what does it mean and how do I answer?",
        "assistant": '\'مرحبا، كيف حالك؟\' (marhaban, kayfa haluk) means "Hello, how are you?" in Arabic. A friendly reply is \'بخير، شكرا\' (bikhair, shukran), which means "Fine, thanks". In Morocco many people also speak Darija and French, so "Salam" and "Merci" are widely understood. Locals appreciate the effort, even if your pronunciation isn\'t perfect.',
    },
    {
        "topic": "cooking",
        "lang": "en",
        "title": "Banana bread 🍌 with honey",
        "bind": {"dish": "banana bread"},
        "user": "Made the banana bread 🍌🍞 and it turned out amazing! Can I swap the sugar for honey next time? 😊",
        "assistant": "So glad it worked out 🎉! Yes, you can replace the sugar with honey: use about three quarters of the amount and reduce the other liquids by a couple of tablespoons. Honey browns faster, so lower the oven by about 15 °C and check it a few minutes early.",
    },
    {
        "topic": "database",
        "lang": "zh",
        "title": "会话名称里的 SQL 注入",
        "bind": {"table": "会话表", "tname": "sessions"},
        "user": "用户在会话名称里输入了 `'; DROP TABLE sessions; --`，我们的接口会被 SQL 注入吗？",
        "assistant": "这是一个典型的 SQL 注入测试字符串：单引号试图结束字符串，`--` 会把后面的语句注释掉。只要使用参数化查询，数据库驱动会把它当作普通数据保存，而不会当作 SQL 执行。请检查代码里有没有用字符串拼接或者 f-string 构造 SQL 的地方。也可以写一个测试，保存这个名称再读出来，确认内容完全一致。",
    },
    {
        "topic": "cooking",
        "lang": "zh",
        "title": "红烧肉🍖少放糖",
        "bind": {"dish": "红烧肉"},
        "user": "红烧肉🍖终于做成功了！下次想少放点糖，会影响上色吗？😋",
        "assistant": "恭喜🎉！少放糖会让颜色浅一些，可以多加一点老抽来上色。糖在红烧肉里不只是提供甜味，还能让汤汁更浓稠，所以建议减少三分之一左右，不要完全不放。",
    },
]

# ------------------------------------------------------------------------ helpers
SLOT_RE = re.compile(r"\{(\w+)\}")
CJK_RE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
TOKEN_RE = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")


def estimate_tokens(text: str) -> int:
    """A rough, deterministic BPE-like token count (integer arithmetic only)."""
    cjk = len(CJK_RE.findall(text))
    rest = CJK_RE.sub(" ", text)
    tokens = 0
    for piece in TOKEN_RE.findall(rest):
        if piece[0].isalpha() and piece.isascii():
            tokens += 1 + len(piece) // 7
        elif piece.isdigit():
            tokens += 1 + len(piece) // 3
        else:
            tokens += 1
    return max(1, tokens + (cjk * 4 + 4) // 5)


def weighted(rng: Random, weights: dict[Any, float]) -> Any:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


class Filler:
    """Fills ``{slot}`` templates from a topic's vocabulary; unknown ``{x}`` is left alone."""

    def __init__(self, rng: Random, vocab: dict[str, list[Any]], sticky: list[str], bind: dict[str, str]):
        self.rng = rng
        self.vocab = vocab
        self.index: dict[str, tuple[str, int | None]] = {}
        for key in vocab:
            names = key.split("|")
            for pos, name in enumerate(names):
                self.index[name] = (key, pos if len(names) > 1 else None)
        self.bindings: dict[str, str] = {}
        for name in sticky:
            self._draw(name, self.bindings)
        # A special exchange may pin some slots (e.g. the dish it talks about).
        for name, value in bind.items():
            if name in self.index:
                self.bindings[name] = value

    def _draw(self, name: str, into: dict[str, str]) -> str | None:
        if name not in self.index:
            return None
        key, pos = self.index[name]
        choice = self.rng.choice(self.vocab[key])
        if pos is None:
            into[name] = choice
        else:
            for i, linked in enumerate(key.split("|")):
                into[linked] = choice[i]
        return into[name]

    def fill(self, template: str, cache: dict[str, str] | None = None) -> str:
        """Fill one template; pass the same ``cache`` to share slot values between templates."""
        cache = {} if cache is None else cache

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in self.bindings:
                return self.bindings[name]
            if name in cache:
                return cache[name]
            value = self._draw(name, cache)
            return m.group(0) if value is None else value

        return SLOT_RE.sub(sub, template)


class Picker:
    """Draws from named pools, avoiding repeats within a session until a pool is used up."""

    def __init__(self, rng: Random):
        self.rng = rng
        self.used: dict[str, set[int]] = {}

    def one(self, name: str, pool: list[Any]) -> Any:
        used = self.used.setdefault(name, set())
        if len(used) >= len(pool):
            used.clear()
        free = [i for i in range(len(pool)) if i not in used]
        i = self.rng.choice(free)
        used.add(i)
        return pool[i]

    def some(self, pool: list[Any], k: int) -> list[Any]:
        """``k`` distinct items in their original order (an itinerary stays day 1, 2, 3...)."""
        return [pool[i] for i in sorted(self.rng.sample(range(len(pool)), min(k, len(pool))))]


def fmt_ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


# --------------------------------------------------------------------- generator
def build_users(rng: Random, n_users: int) -> list[dict[str, Any]]:
    rows = list(USERS[:n_users])
    topics_en = [t for t in TOPICS if "en" in TOPICS[t]]
    i = len(rows)
    while len(rows) < n_users:
        i += 1
        en_p = rng.choice([1.0, 1.0, 0.0, 0.5])
        offset = 480 if en_p == 0.0 else rng.choice([-480, -300, 0, 60, 480])
        rows.append((f"u_user{i:03d}", offset, en_p, "light", rng.sample(topics_en, 2)))
    users = []
    for uid, offset, en_p, activity, fav in rows:
        weight = ACTIVITY_WEIGHT[activity] * rng.uniform(0.6, 1.4)
        if activity == "heavy":
            first, last = 0, N_DAYS - 1
        elif activity == "medium":
            first, last = rng.randint(0, 30), N_DAYS - 1
        else:
            first = rng.randint(0, 110)
            last = first + rng.randint(35, 90) if rng.random() < 0.3 else N_DAYS - 1
            last = min(last, N_DAYS - 1)
        users.append(
            {
                "user_id": uid,
                "username": uid.removeprefix("u_"),
                "offset_min": offset,
                "en_p": en_p,
                "activity": activity,
                "weight": weight,
                "favourites": fav,
                "first_day": first,
                "last_day": last,
                "hour_shift": rng.choice([-1, 0, 0, 0, 1, 2]),
                "model_bias": weighted(rng, MODEL_WEIGHTS["en" if en_p >= 0.5 else "zh"]),
                "system_p": rng.choice([0.05, 0.15, 0.3, 0.5]),
            }
        )
    return users


def pick_topic(rng: Random, user: dict[str, Any], lang: str) -> str:
    fav = [t for t in user["favourites"] if lang in TOPICS[t]]
    others = [t for t in TOPICS if lang in TOPICS[t] and t not in fav]
    weights = {t: 5.0 for t in fav}
    weights.update({t: 1.5 for t in others})
    return weighted(rng, weights)


def day_weight(day_index: int, topic: str, user: dict[str, Any]) -> float:
    d = FIRST_DAY + timedelta(days=day_index)
    work = TOPICS[topic]["work"]
    weekend = d.weekday() >= 5
    if work:
        w = (0.45 if weekend else 1.0) * (0.9 if d.weekday() == 4 else 1.0)
    else:
        w = 1.35 if weekend else 0.8
    # China's National Day holiday: fewer work questions, more travel planning.
    if user["offset_min"] == 480 and d.month == 10 and d.day <= 7:
        w *= 0.3 if work else (2.5 if topic == "travel" else 1.2)
    return w * (0.8 + 0.45 * day_index / N_DAYS)  # the service grows over time


def pick_start(rng: Random, user: dict[str, Any], topic: str, duration_ms: int) -> datetime:
    days = list(range(user["first_day"], user["last_day"] + 1))
    weights = [day_weight(d, topic, user) for d in days]
    for _ in range(200):
        day = rng.choices(days, weights=weights)[0]
        local_date = FIRST_DAY + timedelta(days=day)
        profile = HOURS_WEEKEND if local_date.weekday() >= 5 else HOURS_WEEKDAY
        shift = user["hour_shift"]
        hour = rng.choices(range(24), weights=[profile[(h - shift) % 24] for h in range(24)])[0]
        local = datetime(local_date.year, local_date.month, local_date.day, hour, tzinfo=UTC) + timedelta(
            minutes=rng.randint(0, 59), seconds=rng.randint(0, 59), milliseconds=rng.randint(0, 999)
        )
        start = local - timedelta(minutes=user["offset_min"])  # local wall clock -> UTC
        if start >= START_UTC and start + timedelta(milliseconds=duration_ms) < END_UTC:
            return start
    return START_UTC + timedelta(days=N_DAYS // 2)  # unreachable in practice


def assistant_text(rng: Random, lang: str, content: dict[str, Any], filler: Filler, picker: Picker) -> str:
    g = GENERIC[lang]
    sep = " " if lang == "en" else ""
    target = rng.choices([2, 3, 4, 5, 6, 7, 8], weights=[10, 18, 20, 18, 14, 10, 6])[0]
    closer = rng.random() < 0.4 and target >= 3
    n_body = target - 1 - (1 if closer else 0)
    body = []
    for _ in range(n_body):
        if rng.random() < 0.15:
            body.append(picker.one(f"{lang}:generic", g["points"]))
        else:
            body.append(filler.fill(picker.one("points", content["points"])))
    first = [picker.one(f"{lang}:intro", g["intros"]), *body[: rng.randint(1, 2)]]
    rest = body[len(first) - 1 :]
    blocks = [sep.join(first)]
    if content["code"] and rng.random() < content["code_p"]:
        language, code = picker.one("code", content["code"])
        lead = rng.choice(g["code_leads"])
        blocks.append(f"{lead}\n\n```{language}\n{filler.fill(code)}\n```")
    elif rng.random() < content.get("bullet_p", 0.18):
        lead = rng.choice(content.get("bullet_leads", g["bullet_leads"]))
        items = picker.some(content["bullets"], rng.randint(3, 5))
        blocks.append(lead + "\n" + "\n".join("- " + filler.fill(item) for item in items))
    if rest:
        blocks.append(sep.join(rest))
    if closer:
        blocks.append(picker.one(f"{lang}:closer", g["closers"]))
    if len(blocks) == 1 or rng.random() < 0.5:
        return "\n\n".join(blocks)
    # Sometimes keep the prose in one paragraph when no list or code block separates it.
    merged = [blocks[0]]
    for b in blocks[1:]:
        if "\n" in b or "\n" in merged[-1]:
            merged.append(b)
        else:
            merged[-1] = merged[-1] + sep + b
    return "\n\n".join(merged)


def truncate(rng: Random, text: str, lang: str) -> str:
    """Cut a reply mid-way, as a ``finish_reason == "length"`` answer would end."""
    cut = int(len(text) * rng.uniform(0.55, 0.85))
    if lang == "en":
        space = text.rfind(" ", 0, cut)
        cut = space if space > 20 else cut
    return text[:cut].rstrip()


def user_text(
    rng: Random,
    lang: str,
    content: dict[str, Any],
    filler: Filler,
    picker: Picker,
    first: bool,
    last: bool,
    prev_truncated: bool,
) -> tuple[str, str, str | None]:
    """Returns (kind, text, title); kind is "opener", "closing", "continue" or "followup"."""
    g = GENERIC[lang]
    sep = " " if lang == "en" else ""
    if first:
        title_tpl, text_tpl = picker.one("openers", content["openers"])
        cache: dict[str, str] = {}
        parts = [filler.fill(text_tpl, cache)]
        title = filler.fill(title_tpl, cache)
        if rng.random() < 0.25:
            parts.insert(0, rng.choice(g["before"]))
        if rng.random() < 0.15:
            parts.append(rng.choice(g["after"]))
        return "opener", sep.join(parts), (title[:1].upper() + title[1:]) if lang == "en" else title
    if prev_truncated and rng.random() < 0.7:
        return "continue", rng.choice(g["continue_user"]), None
    if last and rng.random() < 0.45:
        return "closing", picker.one(f"{lang}:closing", g["closings"]), None
    if rng.random() < 0.04:
        return "followup", rng.choice(g["short"]), None
    parts = []
    if rng.random() < 0.3:
        parts.append(rng.choice(g["acks"]))
    if rng.random() < 0.75:
        parts.append(filler.fill(picker.one("followups", content["followups"])))
    else:
        parts.append(picker.one(f"{lang}:followup", g["followups"]))
    if rng.random() < 0.1:
        parts.append(rng.choice(g["after"]))
    return "followup", sep.join(parts), None


def make_metadata(rng: Random, model: str, prompt_tokens: int, content: str) -> tuple[dict[str, Any], int]:
    base, jitter, prefill, tpot = MODELS[model]
    completion = max(1, round(estimate_tokens(content) * rng.uniform(0.95, 1.08)))
    ttft = int(base + rng.random() * jitter + prompt_tokens * prefill)
    if rng.random() < 0.03:  # queueing / cold start
        ttft += rng.randint(800, 3000)
    latency = min(19_500, ttft + int(completion * tpot * rng.uniform(0.85, 1.2)))
    ttft = min(ttft, latency)
    meta = {
        "model": model,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "latency_ms": latency,
        "ttft_ms": ttft,
        "finish_reason": "stop",
    }
    delay = min(20_000, max(1_000, latency + rng.randint(30, 350)))
    return meta, delay


def think_ms(rng: Random, lang: str, read_text: str, typed_text: str) -> int:
    read_cps, type_cps = (30, 5) if lang == "en" else (12, 2)
    ms = int(len(read_text) * 1000 / read_cps * rng.uniform(0.15, 0.9))
    ms += int(len(typed_text) * 1000 / type_cps * rng.uniform(0.6, 1.4))
    ms += rng.randint(1_500, 8_000)
    u = rng.random()
    if u < 0.02:
        ms += rng.randint(600_000, 1_500_000)  # came back after a break
    elif u < 0.12:
        ms += rng.randint(60_000, 480_000)
    return ms


def build_session(rng: Random, user: dict[str, Any], pending: list[dict[str, Any]]) -> dict[str, Any]:
    lang = "en" if rng.random() < user["en_p"] else "zh"
    topic = pick_topic(rng, user, lang)
    special = next((s for s in pending if s["topic"] == topic and s["lang"] == lang), None)
    if special is not None:
        pending.remove(special)
    content = TOPICS[topic][lang]
    filler = Filler(rng, content["vocab"], content["sticky"], special["bind"] if special else {})
    picker = Picker(rng)
    n_pairs = weighted(rng, PAIR_WEIGHTS)
    if special is not None:
        n_pairs = max(n_pairs, 2)
    trailing_user = n_pairs >= 2 and rng.random() < 0.04  # the user left without waiting for a reply

    mw = dict(MODEL_WEIGHTS[lang])
    mw[user["model_bias"]] = mw[user["model_bias"]] * 3
    model = weighted(rng, mw)
    switch_at = rng.randint(1, n_pairs - 1) if n_pairs >= 3 and rng.random() < 0.04 else None

    messages: list[dict[str, Any]] = []  # with integer "t" = ms since session start
    t = 0
    history_tokens = 9
    if rng.random() < user["system_p"]:
        system = rng.choice(SYSTEM_PROMPTS[lang])
        messages.append({"role": "system", "content": system, "t": 0, "metadata": {}})
        history_tokens += estimate_tokens(system) + 4

    title = None
    prev_truncated = False
    for i in range(n_pairs):
        last = i == n_pairs - 1
        if special is not None and i == 0:
            kind, text = "opener", special["user"]
            title = special["title"]
        else:
            kind, text, opener_title = user_text(
                rng, lang, content, filler, picker, i == 0, last and not trailing_user, prev_truncated
            )
            if i == 0:
                title = opener_title
        if messages:
            prev = messages[-1]
            t += think_ms(rng, lang, prev["content"] if prev["role"] == "assistant" else "", text)
        messages.append({"role": "user", "content": text, "t": t, "metadata": {}})
        history_tokens += estimate_tokens(text) + 4
        if last and trailing_user:
            break

        if switch_at is not None and i == switch_at:
            model = weighted(rng, {m: 1.0 for m in MODELS if m != model})
        if special is not None and i == 0:
            reply = special["assistant"]
        elif kind == "closing":
            g = GENERIC[lang]
            reply = (" " if lang == "en" else "").join([rng.choice(g["closing_replies"]), rng.choice(g["closers"])])
        else:
            reply = assistant_text(rng, lang, content, filler, picker)
            if kind == "continue":
                reply = (
                    rng.choice(GENERIC[lang]["continue_intros"])
                    + ("\n\n" if "\n" in reply else (" " if lang == "en" else ""))
                    + reply
                )
        truncated = kind not in ("closing",) and estimate_tokens(reply) >= 120 and rng.random() < 0.08
        if truncated:
            reply = truncate(rng, reply, lang)
        meta, delay = make_metadata(rng, model, history_tokens, reply)
        if truncated:
            meta["finish_reason"] = "length"
        t += delay
        messages.append({"role": "assistant", "content": reply, "t": t, "metadata": meta})
        history_tokens += meta["completion_tokens"] + 4
        prev_truncated = truncated

    start = pick_start(rng, user, topic, t)
    session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if special is None and rng.random() < 0.06:
        title = DEFAULT_SESSION_NAME
    for m in messages:
        m["timestamp"] = fmt_ts(start + timedelta(milliseconds=m.pop("t")))
    return {
        "user_id": user["user_id"],
        "username": user["username"],
        "session_id": session_id,
        "name": title or DEFAULT_SESSION_NAME,
        "created_at": fmt_ts(start),
        "language": lang,
        "topic": topic,
        "messages": messages,
    }


def generate(
    seed: int = DEFAULT_SEED, n_users: int = len(USERS), n_sessions: int = DEFAULT_SESSIONS
) -> list[dict[str, Any]]:
    if n_users < 1 or n_sessions < 1:
        raise ValueError("--users and --sessions must be at least 1")
    rng = Random(seed)
    users = build_users(rng, n_users)
    owners = list(range(min(n_users, n_sessions)))  # everyone gets at least one session
    owners += rng.choices(range(n_users), weights=[u["weight"] for u in users], k=n_sessions - len(owners))
    rng.shuffle(owners)
    pending = [dict(s) for s in SPECIALS]
    sessions = [build_session(rng, users[i], pending) for i in owners]
    sessions.sort(key=lambda s: (s["created_at"], s["session_id"]))
    return sessions


def write_jsonl(sessions: list[dict[str, Any]], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(s, ensure_ascii=False, sort_keys=True) + "\n" for s in sessions).encode("utf-8")
    path.write_bytes(data)
    return len(data)


def summary(sessions: list[dict[str, Any]], size: int, path: Path) -> str:
    roles = Counter(m["role"] for s in sessions for m in s["messages"])
    langs = Counter(s["language"] for s in sessions)
    topics = Counter(s["topic"] for s in sessions)
    models = Counter(m["metadata"]["model"] for s in sessions for m in s["messages"] if m["role"] == "assistant")
    per_user = Counter(s["user_id"] for s in sessions)
    lengths = sorted(len(s["messages"]) for s in sessions)
    first = min(s["created_at"] for s in sessions)
    last = max(s["messages"][-1]["timestamp"] for s in sessions)
    days = (date.fromisoformat(last[:10]) - date.fromisoformat(first[:10])).days + 1
    top = ", ".join(f"{u} {n}" for u, n in per_user.most_common(3))
    return "\n".join(
        [
            f"wrote {path} ({size:,} bytes)",
            f"users:     {len(per_user)} (most active: {top}; least: {min(per_user.values())} session(s))",
            f"sessions:  {len(sessions)} (messages per session: min {lengths[0]}, median {lengths[len(lengths) // 2]}, max {lengths[-1]})",
            f"messages:  {sum(roles.values())} ({', '.join(f'{r} {n}' for r, n in sorted(roles.items()))})",
            f"dates:     {first[:10]} .. {last[:10]} ({days} days, UTC)",
            f"languages: {', '.join(f'{k} {v}' for k, v in sorted(langs.items()))}",
            f"topics:    {', '.join(f'{k} {v}' for k, v in sorted(topics.items()))}",
            f"models:    {', '.join(f'{k} {v}' for k, v in sorted(models.items()))}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument("--users", type=int, default=len(USERS), help=f"number of users (default {len(USERS)})")
    p.add_argument(
        "--sessions", type=int, default=DEFAULT_SESSIONS, help=f"number of sessions (default {DEFAULT_SESSIONS})"
    )
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output JSONL path (default data/sample_conversations.jsonl)"
    )
    args = p.parse_args(argv)
    try:
        sessions = generate(args.seed, args.users, args.sessions)
    except ValueError as exc:
        p.error(str(exc))
    size = write_jsonl(sessions, args.out)
    print(summary(sessions, size, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
