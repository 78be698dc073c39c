"""``uplift demo``: placeholder until every layer lands."""
