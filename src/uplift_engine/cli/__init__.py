"""The ``uplift`` command: one sub-command per verb over the layers' use cases (``cli.main``)."""

__all__: list[str] = []
