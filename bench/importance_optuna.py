#!/usr/bin/env python3
"""Optuna's FanovaImportanceEvaluator on trials exported by bench/importance.ts.

Reads a JSON file {"decisions": [...], "trials": [{"params": {...}, "value": v}]}
from argv[1], builds an Optuna study holding exactly those trials (a decision
inactive in a trial is absent from its params, so Optuna's intersection search
space leaves it out), and prints {"<seed>": {"<decision>": importance}} for
each seed in argv[2] (comma-separated). Run with Debian's system Python and
its python3-optuna and python3-sklearn packages.
"""
import json
import sys

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.importance import FanovaImportanceEvaluator

optuna.logging.set_verbosity(optuna.logging.WARNING)


def distribution(d):
    if d["type"] == "choice":
        return CategoricalDistribution(d["values"])
    if d["type"] == "int":
        return IntDistribution(d["low"], d["high"], log=d["log"], step=d["step"])
    return FloatDistribution(d["low"], d["high"], log=d["log"])


def main():
    data = json.load(open(sys.argv[1]))
    seeds = [int(s) for s in sys.argv[2].split(",")]
    dists = {d["name"]: distribution(d) for d in data["decisions"]}
    study = optuna.create_study(direction="maximize" if data["goal"] == "max" else "minimize")
    for t in data["trials"]:
        params = t["params"]
        study.add_trial(optuna.trial.create_trial(params=params, distributions={k: dists[k] for k in params}, value=t["value"]))
    out = {}
    for seed in seeds:
        out[str(seed)] = optuna.importance.get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed))
    json.dump({"optuna": optuna.__version__, "importance": out}, sys.stdout)


if __name__ == "__main__":
    main()
