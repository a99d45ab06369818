# Data stage: download (verified), parse, split, preprocess, figures.


rule download:
    """Fetch one raw file (canonical hosts or the configured mirror), verify its checksum
    before it is renamed into place, and record where it came from. Its identity is what
    it fetches (params.source: the mirror or the canonical hosts, and the digest the file
    must match), not its code: a verified file's bytes cannot depend on the code, and a
    rerun would fetch again (to fetch anyway: --forcerun download)."""
    output:
        file=f"{RESULTS}/data/raw/{{dataset}}/{{filename}}",
        provenance=f"{RESULTS}/data/raw/{{dataset}}/{{filename}}.provenance.json",
    log:
        f"{LOGS}/download/{{dataset}}/{{filename}}.log",
    benchmark:
        f"{BENCH}/download/{{dataset}}/{{filename}}.tsv"
    wildcard_constraints:
        filename=r"[A-Za-z0-9_.-]+\.(gz|tar\.gz)",
    # the data preparation goes first: every later job waits for it
    priority: plan.FIRST_PRIORITY
    retries: 0
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=300,
        runtime=30,
    params:
        # timeout, retries and backoff (config data.*) change how, not what: not params
        source=download_identity,
    script:
        "../scripts/download.py"


rule load_dataset:
    """Parse the verified raw files (IDX for MNIST, the CIFAR-10 binary batches) into one
    compressed .npz (uint8 images, int64 labels) plus a provenance JSON."""
    input:
        files=lambda wc: raw_files(wc.dataset),
        provenance=lambda wc: [f"{f}.provenance.json" for f in raw_files(wc.dataset)],
    output:
        npz=f"{RESULTS}/data/{{dataset}}.npz",
        provenance=f"{RESULTS}/data/{{dataset}}.provenance.json",
    log:
        f"{LOGS}/load_dataset/{{dataset}}.log",
    benchmark:
        f"{BENCH}/load_dataset/{{dataset}}.tsv"
    priority: plan.FIRST_PRIORITY
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2500,
        runtime=15,
    params:
        code=script_code("load_dataset.py"),
    script:
        "../scripts/load_dataset.py"


rule split:
    """Train/val/test(/dev) split as in the spec; flattened uint8 images, int64 labels."""
    input:
        npz=f"{RESULTS}/data/{{dataset}}.npz",
    output:
        npz=f"{RESULTS}/prep/{{dataset}}/split.npz",
        meta=f"{RESULTS}/prep/{{dataset}}/split.json",
    log:
        f"{LOGS}/split/{{dataset}}.log",
    benchmark:
        f"{BENCH}/split/{{dataset}}.tsv"
    priority: plan.FIRST_PRIORITY
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=script_code("split.py"),
        seed=config["seed"],
        split=lambda wc: config["data"][wc.dataset],
    script:
        "../scripts/split.py"


rule mean_image:
    """The mean image of the TRAIN split only (float64), used to centre every split."""
    input:
        npz=f"{RESULTS}/prep/{{dataset}}/split.npz",
    output:
        npz=f"{RESULTS}/prep/{{dataset}}/mean_image.npz",
    log:
        f"{LOGS}/mean_image/{{dataset}}.log",
    benchmark:
        f"{BENCH}/mean_image/{{dataset}}.tsv"
    priority: plan.FIRST_PRIORITY
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        code=script_code("mean_image.py"),
    script:
        "../scripts/mean_image.py"


rule preprocess:
    """float32 design matrices: 'pixels' (raw 0-255), 'centered' (train mean image
    subtracted), 'centered_bias' (plus a constant-1 column), 'scaled' (MNIST: [0,1],
    one-hot labels)."""
    input:
        npz=f"{RESULTS}/prep/{{dataset}}/split.npz",
        mean=f"{RESULTS}/prep/{{dataset}}/mean_image.npz",
    output:
        npz=f"{RESULTS}/prep/{{dataset}}/{{variant}}.npz",
        meta=f"{RESULTS}/prep/{{dataset}}/{{variant}}.json",
    log:
        f"{LOGS}/preprocess/{{dataset}}/{{variant}}.log",
    benchmark:
        f"{BENCH}/preprocess/{{dataset}}/{{variant}}.tsv"
    wildcard_constraints:
        variant="pixels|centered|centered_bias|scaled",
    priority: plan.FIRST_PRIORITY
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        code=script_code("preprocess.py"),
    script:
        "../scripts/preprocess.py"


rule data_figures:
    """A grid of random training images per class and the mean image."""
    input:
        npz=f"{RESULTS}/prep/{{dataset}}/split.npz",
        mean=f"{RESULTS}/prep/{{dataset}}/mean_image.npz",
        provenance=f"{RESULTS}/data/{{dataset}}.provenance.json",
    output:
        samples=report(
            expand(f"{RESULTS}/figures/data/{{{{dataset}}}}_samples.{{fmt}}", fmt=FIG_FORMATS),
            caption="../../report/captions/data_samples.rst",
            category="Data",
        ),
        mean=report(
            expand(f"{RESULTS}/figures/data/{{{{dataset}}}}_mean_image.{{fmt}}", fmt=FIG_FORMATS),
            caption="../../report/captions/data_mean_image.rst",
            category="Data",
        ),
    log:
        f"{LOGS}/data_figures/{{dataset}}.log",
    benchmark:
        f"{BENCH}/data_figures/{{dataset}}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=script_code("data_figures.py"),
        seed=config["seed"],
        per_class=config["figures"]["samples_per_class"],
    script:
        "../scripts/data_figures.py"


rule data:
    """Every output of the data stage (downloads, splits, preprocessing, features, figures):
    `snakemake data`."""
    input:
        data_targets(),
