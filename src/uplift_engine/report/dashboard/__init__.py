"""The dashboard: pages of charts over what the product writes, in English and Vietnamese.

:func:`create_dashboard` is the app (``uplift dashboard``); :func:`page` the JSON of a page from
its :class:`Sources`.
"""

from uplift_engine.report.dashboard.app import create_dashboard
from uplift_engine.report.dashboard.data import PAGES, Sources, page

__all__ = ["PAGES", "Sources", "create_dashboard", "page"]
