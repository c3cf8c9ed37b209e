"""LearnLedger: collaborative machine learning mediated by an Ethereum contract and IPFS.

Packages, each with one reason to change:

- ``learnledger.ledger``: the only code that talks to a chain (web3): compile, deploy, the typed
  contract client, the event history and the pure-Python reference model of the round rules.
- ``learnledger.store``: content-addressed weight storage (embedded directory, Kubo RPC) and the
  deterministic safetensors codec.
- ``learnledger.data``: datasets (MNIST, the simulated LArTPC events, the DUNE CVN sample) and how
  they are split among learners.
- ``learnledger.agents``: the learner (Keras models, training, scoring) and the agent loop. It talks to
  the chain only through the ``learnledger.ledger.api.Ledger`` interface and never imports web3.
- ``learnledger.report``: plots and reports drawn from a round history.
- ``learnledger.cli``: the ``learnledger`` command.
"""

__version__ = "0.1.0"
