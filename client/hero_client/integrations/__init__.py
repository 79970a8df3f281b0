"""Trainer adapters. Import the one you need; none imports its trainer until it must:

- ``hero_client.integrations.openrlhf``: ``remote_url(...)`` for ``--reward.remote_url``, and ``AgentExecutor``
  (this file as ``--train.agent_func_path``)
- ``hero_client.integrations.verl``: async ``compute_score`` and ``HeroRewardManager``
- ``hero_client.integrations.trl``: ``HeroReward``, an async ``reward_funcs`` entry for ``GRPOTrainer``

Every adapter reads ``HERO_*`` environment variables (``AdapterSettings``) and warns with
``AdvantageNormalizationWarning`` when the trainer divides advantages by the group std.
"""

from __future__ import annotations

from hero_client.integrations._common import AdapterSettings, AdvantageNormalizationWarning

__all__ = ["AdapterSettings", "AdvantageNormalizationWarning"]
