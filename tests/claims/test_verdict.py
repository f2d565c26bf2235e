"""The verdict maths: the brief's rule, and the hierarchical paired bootstrap's behaviour on
planted effects, identical models and swapped sides (pure, no files)."""

import numpy as np
import pytest

from ccl_bench.claims.verdict import NOT_RUN, Outcome, RunStatistic, combine, paired_difference, pooled_estimate, verdict


def test_the_rule_is_direction_aware():
    assert verdict(0.1, 0.3, "higher") == "supported"
    assert verdict(-0.3, -0.1, "higher") == "contradicted"
    assert verdict(-0.3, -0.1, "lower") == "supported"
    assert verdict(0.1, 0.3, "lower") == "contradicted"
    assert verdict(-0.1, 0.3, "higher") == verdict(-0.1, 0.3, "lower") == "inconclusive"
    assert verdict(-0.2, -0.1, "zero") == "supported"  # |t| - |c| < 0: the treatment's offset is closer to 0
    with pytest.raises(ValueError):
        verdict(0, 1, "up")


def test_all_parts_must_agree():
    s, c, i = Outcome("supported"), Outcome("contradicted"), Outcome("inconclusive")
    assert combine([s, s]) == "supported"
    assert combine([s, i]) == "inconclusive"
    assert combine([s, c]) == "contradicted"
    assert combine([s, Outcome(NOT_RUN)]) == NOT_RUN


def _side(rng, mean: float, seeds=3, prompts=16, seed_sd=0.0, shared_seed_effects=None):
    """Per-clip values; statistic = mean over the drawn clips (a per-clip metric)."""
    runs = {}
    for s in range(seeds):
        effect = shared_seed_effects[s] if shared_seed_effects is not None else rng.normal(0, seed_sd)
        vals = mean + effect + rng.normal(0, 1.0, prompts)
        runs[(str(s), "t2av")] = RunStatistic([f"p{i}" for i in range(prompts)], lambda idx, v=vals: float(v[idx].mean()))
    return runs


def test_planted_effect_is_supported_and_swapping_sides_contradicts():
    rng = np.random.default_rng(0)
    t, c = _side(rng, 1.5), _side(rng, 0.0)
    o = paired_difference(t, c, "higher", replicates=500)
    assert o.status == "supported" and o.ci[0] > 0 and abs(o.difference - 1.5) < 0.6
    assert o.seeds == ["0", "1", "2"] and o.units == 48
    swapped = paired_difference(c, t, "higher", replicates=500)
    assert swapped.status == "contradicted"
    assert swapped.difference == pytest.approx(-o.difference)
    assert paired_difference(t, c, "lower", replicates=500).status == "contradicted"


def test_identical_models_are_inconclusive_in_at_least_95_percent_of_40_seeds():
    statuses = []
    for k in range(40):
        rng = np.random.default_rng(1000 + k)
        effects = rng.normal(0, 0.5, 3)  # the same configuration and training seed: the same seed effect
        t = _side(rng, 0.0, shared_seed_effects=effects)
        c = _side(rng, 0.0, shared_seed_effects=effects)
        statuses.append(paired_difference(t, c, "higher", replicates=400, seed=k).status)
    assert statuses.count("inconclusive") >= 38, statuses
    assert set(statuses) <= {"inconclusive", "supported", "contradicted"}


def test_pairs_match_by_seed_and_prompt_and_need_enough_seeds():
    rng = np.random.default_rng(1)
    t, c = _side(rng, 1.0), _side(rng, 0.0)
    del c[("2", "t2av")]
    o = paired_difference(t, c, "higher", min_seeds=3, replicates=100)
    assert o.status == NOT_RUN and "2 paired training seed(s), needs 3" in o.reason
    # A prompt only one side has is left out of the pairs.
    c2 = _side(rng, 0.0, prompts=10)
    o = paired_difference(t, c2, "higher", replicates=100)
    assert o.units == 30


def test_units_pair_by_id_whatever_their_order():
    """The comparator's clips are the treatment's minus 1 exactly, listed in another order and with
    prompts only one side has: pairing by id gives exactly 1 with no spread."""
    rng = np.random.default_rng(3)
    t, c = {}, {}
    for s in range(3):
        vals = {f"p{i}": v for i, v in enumerate(rng.normal(0, 5, 20))}
        tid = [f"p{i}" for i in range(16)]
        cid = [f"p{i}" for i in rng.permutation(np.arange(4, 20))]
        tv, cv = np.array([vals[i] + 1 for i in tid]), np.array([vals[i] for i in cid])
        t[(str(s), "t2av")] = RunStatistic(tid, lambda idx, a=tv: float(a[idx].mean()))
        c[(str(s), "t2av")] = RunStatistic(cid, lambda idx, a=cv: float(a[idx].mean()))
    o = paired_difference(t, c, "higher", replicates=200)
    assert o.units == 36 and o.difference == pytest.approx(1.0)
    assert o.ci == pytest.approx((1.0, 1.0)) and o.status == "supported"


def test_the_bootstrap_resamples_seeds_not_only_prompts():
    """A treatment that wins on one seed and loses on the others by as much: the seed draw must widen
    the interval past 0 (resampling prompts alone, pooled, would call this supported)."""
    rng = np.random.default_rng(2)
    prompts = 40
    t, c = {}, {}
    for s, shift in enumerate([3.0, -1.0, -1.0]):
        base = rng.normal(0, 0.1, prompts)
        t[(str(s), "t2av")] = RunStatistic([f"p{i}" for i in range(prompts)], lambda idx, v=base + shift: float(v[idx].mean()))
        c[(str(s), "t2av")] = RunStatistic([f"p{i}" for i in range(prompts)], lambda idx, v=base: float(v[idx].mean()))
    o = paired_difference(t, c, "higher", replicates=500)
    assert o.difference == pytest.approx(1 / 3, abs=1e-9)
    assert o.ci[0] < 0 < o.ci[1] and o.status == "inconclusive"


def test_pooled_estimate_centres_on_the_runs_and_narrows_with_more_units():
    rng = np.random.default_rng(1)
    wide = pooled_estimate(_side(rng, 0.7, prompts=8), replicates=400)
    narrow = pooled_estimate(_side(rng, 0.7, prompts=64), replicates=400)
    assert wide.seeds == ["0", "1", "2"] and wide.ci[0] < wide.value < wide.ci[1]
    assert abs(narrow.value - 0.7) < 0.2 and narrow.ci[0] < 0.7 < narrow.ci[1]
    assert narrow.ci[1] - narrow.ci[0] < wide.ci[1] - wide.ci[0]
    assert pooled_estimate({}).value is None
