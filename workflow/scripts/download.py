"""Fetch one raw dataset file, verified, atomically; write its provenance JSON."""

from nplab_io.atomic import write_json_atomic
from nplab_io.download import fetch, resolve_mirror
from nplab_io.jobs import run_job


def main(sm, log):
    cfg = sm.config["data"]
    log.info("source: %s", sm.params.source)
    prov = fetch(
        sm.wildcards.dataset,
        sm.wildcards.filename,
        sm.output.file,
        mirror=resolve_mirror(cfg["mirror"]),
        timeout=cfg["timeout"],
        retries=cfg["retries"],
        backoff=cfg["backoff"],
        log=log.info,
    )
    write_json_atomic(sm.output.provenance, prov)
    log.info("verified %s (%s)", sm.wildcards.filename, prov.get("checksum_kind"))


run_job(snakemake, main)
