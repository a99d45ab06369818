"""The bodies of the longer workflow jobs, importable and testable: each module's
``main(sm, log)`` is what ``workflow/scripts/<module>.py`` runs through ``run_job``."""
