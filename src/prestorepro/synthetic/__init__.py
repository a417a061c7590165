"""The synthetic mixture-of-SVMs experiment (paper App. C, Fig. 6; SPEC §8): the run (``run``) and its
diagnostics (``diagnostics``)."""
