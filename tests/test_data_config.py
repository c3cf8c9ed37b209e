"""The [data] table's meaning and the one entry point that gives each learner its data."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from learnledger.data.api import EventSample
from learnledger.data.config import Corruption, DataConfig
from learnledger.data.dune_cvn import DEFAULT_ROOT
from learnledger.data.errors import DataError
from learnledger.data.experiment_data import load_learner_data


def test_from_dict_reads_a_full_table():
    config = DataConfig.from_dict({"source": "dune_cvn", "split": "dirichlet", "alpha": 0.1,
                                   "vote_fraction": 0.25, "include_nutau": True})
    assert config == DataConfig(source="dune_cvn", split="dirichlet", alpha=0.1,
                                vote_fraction=0.25, include_nutau=True)
    assert DataConfig.from_dict({}) == DataConfig()


@pytest.mark.parametrize(("table", "message"), [
    ({"sorce": "mnist", "aplha": 1}, "unknown key.*aplha, sorce"),
    ({"source": "cifar"}, "source='cifar'"),
    ({"split": "by_label"}, "split='by_label'"),
    ({"alpha": 0}, "alpha=0"),
    ({"alpha": "0.5"}, "alpha must be int or float; got alpha='0.5'"),
    ({"include_nutau": "yes"}, "include_nutau must be bool"),
    ({"events": True}, "events must be int; got events=True"),
    ({"vote_fraction": 0.6, "test_fraction": 0.5}, "leave something to train on"),
    ({"max_per_learner": 2}, "max_per_learner=2"),
])
def test_bad_tables_are_refused_with_the_value_echoed(table, message):
    with pytest.raises(DataError, match=message):
        DataConfig.from_dict(table)


def test_mnist_learners_get_disjoint_private_sets_and_only_the_bad_one_is_spoiled():
    config = DataConfig(max_per_learner=200)
    roster = [Corruption(), Corruption("label_noise", 1.0), Corruption()]
    learners = load_learner_data(config, roster, seed=11)
    assert len(learners) == 3
    for data in learners:
        assert (len(data.train), len(data.vote), len(data.test)) == (120, 40, 40)
        assert data.train.x.shape[1:] == (28, 28, 1) and data.train.x.dtype == np.uint8
        assert data.provenance["source"] == "bundled" and data.provenance["seed"] == 11
    assert "corruption" in learners[1].provenance and "corruption" not in learners[0].provenance
    # Learners hold different digits: no image is shared between two learners' train sets.
    flat = [d.train.x.reshape(len(d.train), -1) for d in learners]
    assert not (set(map(bytes, flat[0])) & set(map(bytes, flat[2])))

    again = load_learner_data(config, roster, seed=11)
    np.testing.assert_array_equal(again[1].train.y, learners[1].train.y)
    other = load_learner_data(config, roster, seed=12)
    assert not np.array_equal(other[0].train.y, learners[0].train.y)


def test_dirichlet_config_gives_skewed_learners():
    learners = load_learner_data(DataConfig(split="dirichlet", alpha=0.05),
                                 [Corruption()] * 4, seed=0)
    dominant = [np.bincount(d.train.y, minlength=10).max() / len(d.train) for d in learners]
    assert np.mean(dominant) > 0.4  # IID would give ~0.1


KEEP = {"event0", "event1", "event2"}


def test_dune_cvn_source_drops_nutau_unless_asked(tmp_path):
    for flavour in ("nc", "numu", "nue", "nutau"):
        shutil.copytree(DEFAULT_ROOT / flavour, tmp_path / flavour,
                        ignore=lambda d, names: [n for n in names if n.split(".")[0] not in KEEP])
    learners = load_learner_data(DataConfig(source="dune_cvn", path=str(tmp_path)),
                                 [Corruption()] * 2, seed=0)
    assert learners[0].class_names == ("NC", "numu CC", "nue CC")
    assert learners[0].train.x.shape[1:] == (200, 200, 3)
    labels = np.concatenate([np.concatenate([d.train.y, d.vote.y, d.test.y]) for d in learners])
    assert np.bincount(labels).tolist() == [3, 3, 3]


def test_lartpc_source_reads_the_simulators_file(tmp_path):
    lartpc = pytest.importorskip("learnledger.data.lartpc")
    rng = np.random.default_rng(0)
    n = 24
    sample = EventSample(images=rng.integers(0, 255, (n, 3, 200, 200), dtype=np.uint8),
                         labels=np.arange(n) % 3, energy=np.full(n, 2.5, np.float32),
                         lepton_energy=np.ones(n, np.float32), interaction=np.zeros(n, np.int64))
    path = tmp_path / "sim.h5"
    lartpc.write_h5(path, sample, lartpc.SimConfig(), seed=0)
    learners = load_learner_data(DataConfig(source="lartpc", path=str(path)),
                                 [Corruption()] * 2, seed=0)
    assert sum(len(d.train) + len(d.vote) + len(d.test) for d in learners) == n
    assert learners[0].provenance["dataset"] == "lartpc"


def test_no_learners_and_missing_microboone_path_are_explained():
    with pytest.raises(DataError, match="no learners"):
        load_learner_data(DataConfig(), [], seed=0)
    with pytest.raises(DataError, match="microboone.*needs path"):
        load_learner_data(DataConfig(source="microboone"), [Corruption()], seed=0)
