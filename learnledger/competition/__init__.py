"""Model competition: different models on one task, the best chosen on-chain without a judge.

- ``api``: the competition's vocabulary (phases, entries, reveals) and the ``Competition`` protocol
  the evaluator agent talks to; no web3.
- ``commitment``: the commit hash, computed exactly as the contract does.
- ``results``: medians, the winner and the tie rule, in plain Python (the audit's and the tests'
  mirror of the contract's finalize).
- ``client``: deploy the contract and act on it through web3 (``CompetitionClient``).
- ``evaluator``: the evaluator agent: fetch, verify, score, commit, reveal.
- ``seed``: the winning entry as the initial model of a new collaborative experiment.
"""
