"""Reward diagnostics: score a rollout file offline (``hero-reward score``) and see how the verifier and
the reward model agree (``hero-reward report``).

``rollouts`` reads the input forms, ``records`` is the scored-file format and its resume plan, ``stats``
is the pure arithmetic of the report, ``offline`` runs the scoring, ``report`` renders the HTML page.
"""
