"""4b. The analysis scenario at 100k and 1M messages (``--full``; long), in a result of its own.

The default run's ``analysis.json`` (10k, 100k) stays as it is; the summary's targets take the
memory verdict from this one when it exists. ``--store-profiles embedded`` (or ``services``)
measures one profile.
"""

from __future__ import annotations

from bench import analysis
from bench.common import Ctx
from bench.report import Result


async def run(ctx: Ctx) -> Result:
    return await analysis.run(ctx, scenario="analysis_1m", title="4b. Analysis scaling to 1M messages")
