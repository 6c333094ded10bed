"""Reading and writing surfaces; validation reports, repair and normalization."""

__all__: list[str] = []
