"""Facebook Pages errors -> our error tree, in one place.

Runs before the Graph-wide table of ``connectors.graph.classify_common``::

    506       duplicate post      -> OutcomeUnknownError: never resend; an earlier attempt most likely
                                     succeeded, the publisher reconciles through ``find_published``
    1609005   error posting link  -> PermanentError
    (everything else: 1/2 transient, 4/17/32/613/80001/341 rate limits, 368 long block, 102/190 auth,
     3/10/100/200–299 permanent, unknown 5xx transient — see ``connectors.graph``)
"""

from __future__ import annotations

from connectors.errors import ConnectorError, OutcomeUnknownError, PermanentError
from connectors.graph import GraphErrorInfo, classify_common


def classify_facebook_error(info: GraphErrorInfo, writes: bool) -> ConnectorError:
    """Map one Facebook Graph error envelope to the error the publisher acts on."""
    if info.code == 506:
        return OutcomeUnknownError(
            f"{info.text} — Facebook refused an identical consecutive post; an earlier attempt probably "
            "published it, so it is not sent again.",
            code=506,
            response=info.excerpt,
        )
    if info.code == 1609005:
        return PermanentError(f"{info.text} — Facebook could not attach the link.", code=1609005, response=info.excerpt)
    return classify_common(info, writes=writes, label="Facebook")
