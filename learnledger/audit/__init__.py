"""The audit: anyone, member or not, rebuilds and checks an experiment from the chain and the store.

- ``fetch``: events in chunked, retried block ranges and the contract's views, pinned to one block;
- ``rebuild``: rounds from the events alone, keeping what does not fit;
- ``checks``: events, views and the reference rules must agree; ``verify``: the store's files too;
- ``valuation``: what each group's data brought (the paper's second use case);
- ``render``: the table, JSON lines and the self-contained HTML report; ``evaluate``: the final
  model on a local dataset;
- ``run``: one audit start to end.
"""
