"""Fetch one raw dataset file, verified, atomically; write its provenance JSON."""

from nplab_io.atomic import write_json_atomic
from nplab_io.download import fetch
from nplab_io.jobs import run_job


def main(sm, log):
    cfg = sm.config["data"]
    mirror = cfg["mirror"]
    if mirror and "://" not in mirror:
        from pathlib import Path

        mirror = str(Path(mirror).expanduser().resolve())
    prov = fetch(
        sm.wildcards.dataset,
        sm.wildcards.filename,
        sm.output.file,
        mirror=mirror,
        timeout=sm.params.timeout,
        retries=sm.params.retries,
        backoff=sm.params.backoff,
        log=log.info,
    )
    write_json_atomic(sm.output.provenance, prov)
    log.info("verified %s (%s)", sm.wildcards.filename, prov.get("checksum_kind"))


run_job(snakemake, main)
