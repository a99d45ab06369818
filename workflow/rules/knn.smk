# k-nearest neighbours on raw CIFAR-10 pixels (spec: "k-nearest neighbours"):
#   the course protocol on a subsample (three L2 distance methods, 5-fold CV over k, the
#   distance-matrix image), the full train split with L1 and L2 (one job each), and the
#   inputs of questions knn-1, knn-2 (one job per transform) and knn-3 (questions.smk).
# Resources (mem_mb, runtime in minutes) are sized from results/benchmarks/knn/ and the
# peak RSS the full jobs record, measured on a full-config run on 2 cores, with headroom:
# the heaviest jobs are knn_full (L1: ~25 s on 2 threads, ~0.9 GB peak; L2: ~5 s) and
# knn_course_methods (two loops ~10-18 s + one loop ~12 s); everything else takes seconds.

KNN = config["knn"]
KNN_DIR = f"{RESULTS}/knn"
KNN_FIG = f"{RESULTS}/figures/knn"
KNN_BUDGET = int(KNN["memory_budget_mb"]) * 2**20
# knn-2: the raw pixels and the five transforms (workflow/scripts/knn_transform.py), as
# the question's registry entry lists their files
KNN_TRANSFORMS = [Path(p).stem for p in QUESTIONS_BY_ID["knn-2"]["inputs"]["transforms"]]


STAGE_TARGETS.append(knn_targets)


rule knn:
    """Every output of the kNN stage: `snakemake knn`."""
    input:
        knn_targets(),


rule knn_course_data:
    """The course's subsample: the first num_train train / num_test test images of the
    splits (or a seeded random subset), uint8, with their dataset indices."""
    input:
        npz=f"{RESULTS}/prep/cifar10/split.npz",
        provenance=f"{RESULTS}/data/cifar10.provenance.json",
    output:
        npz=f"{KNN_DIR}/course_data.npz",
        meta=f"{KNN_DIR}/course_data.json",
    log:
        f"{LOGS}/knn/course_data.log",
    benchmark:
        f"{BENCH}/knn/course_data.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=600,
        runtime=3,
    params:
        code=script_code("knn_course_data.py"),
        course=KNN["course"],
        seed=config["seed"],
    script:
        "../scripts/knn_course_data.py"


rule knn_course_methods:
    """L2 distances three ways (two loops, one loop, no loops; float64 as in the course):
    seconds and Frobenius agreement; test accuracy for eval_ks; the distance-matrix image."""
    input:
        npz=f"{KNN_DIR}/course_data.npz",
    output:
        csv=f"{KNN_DIR}/course_methods.csv",
        json=f"{KNN_DIR}/course_methods.json",
        fig=figures(KNN_FIG, "distance_matrix"),
    log:
        f"{LOGS}/knn/course_methods.log",
    benchmark:
        f"{BENCH}/knn/course_methods.tsv"
    priority: 2  # ~23 s: ordered among the training runs (runs.smk, run_priority: ~10 s a step)
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=800,
        runtime=5,
    params:
        code=script_code("knn_course_methods.py"),
        eval_ks=KNN["course"]["eval_ks"],
        budget=KNN_BUDGET,
    script:
        "../scripts/knn_course_methods.py"


rule knn_course_cv:
    """num_folds-fold cross-validation over cv_ks (L2) on the course's training subsample:
    tidy fold accuracies, mean/std per k, the scatter + error-bar plot."""
    input:
        npz=f"{KNN_DIR}/course_data.npz",
    output:
        csv=f"{KNN_DIR}/course_cv.csv",
        summary=f"{KNN_DIR}/course_cv_summary.csv",
        fig=figures(KNN_FIG, "course_cv"),
    log:
        f"{LOGS}/knn/course_cv.log",
    benchmark:
        f"{BENCH}/knn/course_cv.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=700,
        runtime=3,
    params:
        code=script_code("knn_course_cv.py"),
        ks=KNN["course"]["cv_ks"],
        num_folds=KNN["course"]["num_folds"],
        budget=KNN_BUDGET,
    script:
        "../scripts/knn_course_cv.py"


rule knn_course_best:
    """The best k of the cross-validation (ties -> smallest k), retrained on the whole
    training subsample and evaluated once on the test subsample."""
    input:
        npz=f"{KNN_DIR}/course_data.npz",
        summary=f"{KNN_DIR}/course_cv_summary.csv",
    output:
        json=f"{KNN_DIR}/course_best.json",
    log:
        f"{LOGS}/knn/course_best.log",
    benchmark:
        f"{BENCH}/knn/course_best.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    params:
        code=script_code("knn_course_best.py"),
        budget=KNN_BUDGET,
    script:
        "../scripts/knn_course_best.py"


rule knn_full:
    """The whole train split vs the first num_test test images, one metric per job,
    distances chunked within memory_budget_mb; accuracy for every k, seconds, peak RSS."""
    input:
        npz=f"{RESULTS}/prep/cifar10/split.npz",
        provenance=f"{RESULTS}/data/cifar10.provenance.json",
    output:
        csv=f"{KNN_DIR}/full_{{metric}}.csv",
        json=f"{KNN_DIR}/full_{{metric}}.json",
    log:
        f"{LOGS}/knn/full_{{metric}}.log",
    benchmark:
        f"{BENCH}/knn/full_{{metric}}.tsv"
    wildcard_constraints:
        metric="l1|l2",
    # a multi-thread job waits for every core to be free; without priority the scheduler
    # keeps starting one-thread runs and this job would run last, alone
    priority: plan.FIRST_PRIORITY
    conda:
        CONDA_ENV
    threads: KNN["full"]["threads"]
    resources:
        mem_mb=1600,
        runtime=5,
    params:
        code=script_code("knn_full.py"),
        full=KNN["full"],
        budget=KNN_BUDGET,
    script:
        "../scripts/knn_full.py"


rule knn_full_table:
    """One table (metric, k, test accuracy, seconds, peak memory) and its figure."""
    input:
        csv=expand(f"{KNN_DIR}/full_{{metric}}.csv", metric=KNN["full"]["metrics"]),
    output:
        csv=f"{KNN_DIR}/full_train.csv",
        fig=figures(KNN_FIG, "full_train"),
    log:
        f"{LOGS}/knn/full_table.log",
    benchmark:
        f"{BENCH}/knn/full_table.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=300,
        runtime=2,
    params:
        code=script_code("knn_full_table.py"),
    script:
        "../scripts/knn_full_table.py"


rule knn_transform:
    """knn-2: L1 1-NN predictions on the course subsample after one preprocessing
    transform (statistics from the training subsample), one job per transform."""
    input:
        npz=f"{KNN_DIR}/course_data.npz",
    output:
        npz=f"{KNN_DIR}/transforms/{{transform}}.npz",
    log:
        f"{LOGS}/knn/transform_{{transform}}.log",
    benchmark:
        f"{BENCH}/knn/transform_{{transform}}.tsv"
    wildcard_constraints:
        transform="|".join(KNN_TRANSFORMS),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=3,
    params:
        code=script_code("knn_transform.py"),
        dtype=KNN["questions"]["transform_dtype"],
        budget=KNN_BUDGET,
    script:
        "../scripts/knn_transform.py"


rule knn_timing:
    """knn-3: seconds to fit and to classify timing_num_test images (L2, k=1) against
    training sets of growing size (best of timing_repeats)."""
    input:
        npz=f"{RESULTS}/prep/cifar10/split.npz",
    output:
        csv=f"{KNN_DIR}/timing.csv",
    log:
        f"{LOGS}/knn/timing.log",
    benchmark:
        f"{BENCH}/knn/timing.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1200,
        runtime=3,
    params:
        code=script_code("knn_timing.py"),
        q=KNN["questions"],
        budget=KNN_BUDGET,
    script:
        "../scripts/knn_timing.py"
