"""The prepared split sizes of the datasets whose sizes are known before they are prepared (SPEC §1; the
paper's Table 4): CIFAR10 and SVHN with the seeded 10% validation hold-out carved out of the official
training set, PathMNIST and DermaMNIST with their official splits, digits with its seeded 60/20/20 split.
The config check (K and the leeway against N) and the stand-ins (which copy a paper dataset's sizes) read
them from here."""

PREPARED_SIZES: dict[str, tuple[int, int, int]] = {  # train, val, test
    "cifar10": (45000, 5000, 10000),
    "svhn": (65932, 7325, 26032),
    "pathmnist": (89996, 10004, 7180),
    "dermamnist": (7007, 1003, 2005),
    "digits": (1079, 359, 359),
}
