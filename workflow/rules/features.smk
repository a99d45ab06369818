# Image features (CIFAR-10): HOG + HSV hue histogram, standardised with TRAIN statistics.


rule features:
    """HOG (scikit-image) + hue histogram for every image of the splits, computed in
    parallel chunks within the rule's threads; standardised with the train split's mean
    and std, then a bias column appended."""
    input:
        npz=f"{RESULTS}/prep/cifar10/split.npz",
    output:
        npz=f"{RESULTS}/features/cifar10/features.npz",
        meta=f"{RESULTS}/features/cifar10/features.json",
    log:
        f"{LOGS}/features/cifar10.log",
    benchmark:
        f"{BENCH}/features/cifar10.tsv"
    # first: every feature run waits for it. One thread: Snakemake's scheduler reserves no
    # cores, so a two-thread job waits until two jobs happen to end together (in practice
    # until the queue drains); a second thread gave little on 2 cores
    priority: plan.FIRST_PRIORITY
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        code=script_code("features.py"),
        hog=config["features"]["hog"],
        hue_bins=config["features"]["hue_bins"],
        chunk_size=config["features"]["chunk_size"],
    script:
        "../scripts/features.py"
