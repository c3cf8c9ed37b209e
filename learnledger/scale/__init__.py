"""Past one machine, in simulation: committees of voters, many labs, calibrated learners.

Nothing here is built into the contract. ``committee`` is the reference rules with a committee of
``k`` voters drawn each round; ``population`` is hundreds of real (numpy) MNIST learners sharing one
data loader; ``statistical`` is the calibrated stand-in for thousands; ``simulate`` plays rounds and
compares each design's decisions with every-member voting. ``scripts/simulate_scale.py`` drives
them and ``docs/scale.md`` reports what they found.
"""
