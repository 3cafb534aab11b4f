"""The profile job (mxprof.jobs.contract):

    from mxprof.jobs.profile.plan import Options, plan    # plan(options) -> ProfilePlan
    from mxprof.jobs.profile.run import run                # run(plan, on_event, on_partial=None)
                                                           #   -> records.ProfileResult

Where each part lives: plan.py (options, the plan, the worker specs), run.py (the
orchestration: workers, machine load, checks, diagnosis, fixes), runner.py (run_groups: the
one way its worker processes run, through an executor), worker.py (inside one) and passes.py
(what each pass measures there), report.py (worker results folded into one report),
records.py (the result record), checks.py, roofline_section.py, diagnose.py (the findings),
try_fixes.py. Nothing is imported here, so a worker process that imports
`mxprof.jobs.profile.worker` pays for none of the rest.
"""
