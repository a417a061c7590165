"""Cost forecast of a configured run from a measured one: per rule, the jobs, the projected wall time and
peak memory, the total, and the critical path (the wall time with unlimited parallel jobs).

    python -m prestorepro.forecast --configfile config/paper.yaml \\
        --measured-config config/rehearsal.yaml --measured results/rehearsal --out results/forecast

The measured run is a finished run of the workflow (the rehearsal on stand-in data, ``config/rehearsal.yaml``,
is made for it: the paper's DAG and sizes, every budget cut to one or two rounds / epochs). Each job of the
target run is matched with the measured job of the same rule and wildcards (the seed, then the rest,
relaxed when the measured run has fewer) and projected from what that job recorded:

- its wall time (Snakemake's job metadata) and peak resident memory (its ``benchmark:`` file, where the
  rule has one), and
- the phase times its metrics record (PRESTO's training / loss matrix / assignment / gate, the coreset
  runs' epochs and selections, the pruned, distilled and guide networks' epochs, the embedding's splits).

A phase is scaled by the ratio of its budget in the two configs (rounds x epochs, gate epochs, n_init, K for
the loss matrix, the coreset schedule's full and subset epochs and selections) and by the ratio of the
training-set sizes (when the measured run used smaller stand-ins, ``scale`` < 1); the rest of the job's wall
time (start-up, loading, evaluation) is kept as measured. Every row says how it was projected; rows that
are ``measured`` ran at the target's budget and size. Memory is the measured job's peak; training memory
does not grow with epochs, but it does with N: a job measured at a smaller N is flagged.

This assumes time linear in N within a phase. The phases that are not (k-means-constrained's min-cost
flow, agglomerative clustering's O(n^2) on ``max_fit_samples``) are only right when measured at the target's
N: run the measured config at ``scale: 1`` on the device that will run the target.
"""
from prestorepro.forecast.dag import PlannedJob, critical_path, edges, plan
from prestorepro.forecast.measured import Measured, match, measure
from prestorepro.forecast.projections import Projection, project
from prestorepro.forecast.rehearsal import reduced_rehearsal
from prestorepro.forecast.report import forecast, to_markdown

__all__ = ["Measured", "PlannedJob", "Projection", "critical_path", "edges", "forecast", "match", "measure", "plan",
           "project", "reduced_rehearsal", "to_markdown"]
