#!/usr/bin/python3
"""Optuna's proposal cost on the NAS-Bench-201 space, for a side-by-side
comparison with `npm run bench:proposal` (same histories, same repeats).

Usage: /usr/bin/python3 bench/optuna_proposal_cost.py CSV [--histories 300,5000] [--repeats 50]
Needs Debian's python3-optuna. Prints JSON: median and mean ms per ask+tell of
multivariate TPE with H finished trials of random history.
"""
import argparse, csv, json, random, statistics, time
import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
EDGES = ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]

def main():
    p = argparse.ArgumentParser()
    p.add_argument("csv"); p.add_argument("--histories", default="300,5000"); p.add_argument("--repeats", type=int, default=50)
    a = p.parse_args()
    table = {}
    with open(a.csv) as f:
        for r in csv.DictReader(f):
            table[r["arch_str"]] = float(r["val_acc_200ep"])
    arch = lambda o: f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"
    dists = {e: optuna.distributions.CategoricalDistribution(OPS) for e in EDGES}
    out = {}
    for h in [int(x) for x in a.histories.split(",")]:
        rng = random.Random(7)
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=1, multivariate=True, group=False, n_startup_trials=10))
        trials = []
        for _ in range(h):
            params = {e: rng.choice(OPS) for e in EDGES}
            trials.append(optuna.trial.create_trial(params=params, distributions=dists, value=table[arch([params[e] for e in EDGES])]))
        study.add_trials(trials)
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            tr = study.ask()
            ops = [tr.suggest_categorical(e, OPS) for e in EDGES]
            study.tell(tr, table[arch(ops)])
            times.append(1000 * (time.perf_counter() - t0))
        out[h] = {"medianMs": round(statistics.median(times), 3), "meanMs": round(statistics.mean(times), 3)}
        print(f"optuna tpe-multivariate history {h}: median {out[h]['medianMs']} ms, mean {out[h]['meanMs']} ms", flush=True)
    print(json.dumps(out))

if __name__ == "__main__":
    main()
