"""Server settings: environment variables with the ``HERO_`` prefix, validated at start."""

from __future__ import annotations

import dataclasses
import os
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hero_service.hero import Dense, HeroParams, Mode, Preset, check_bands, check_weights
from hero_service.verifier.verdict import ListPolicy, PercentPolicy, RatioPolicy, VerifierPolicy

_DEFAULTS = HeroParams()
"""The reward parameters' defaults are the math's own (``hero.HeroParams``): defined once."""


def _variable(name: str) -> str:
    return f"HERO_{name.upper()}"


def _default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


class ServerSettings(BaseModel):
    """The HTTP server: where it listens, who may call it, its connection timeouts, drain and logs."""

    host: str = Field("127.0.0.1", description="Interface to bind (0.0.0.0 in containers).")
    port: int = Field(8000, ge=1, le=65535, description="TCP port.")
    api_keys: str | None = Field(None, description="Comma-separated API keys; set: every scoring route "
                                 "needs one (Bearer header, or ?key= for /get_reward).")
    protect_probes: bool = Field(False, description="Require the API key on /health, /ready and /metrics "
                                 "too (they are open by default for probes and scrapers).")
    docs: bool = Field(False, description="Serve Swagger UI at /docs (its scripts come from a public CDN, "
                       "so it needs a browser with internet access); /openapi.json is served either way.")
    drain_timeout_s: float = Field(30.0, ge=0, description="On SIGTERM, how long in-flight requests "
                                   "may take to finish.")
    header_timeout_s: float = Field(10.0, gt=0, description="A connection that has not sent a request's "
                                    "headers this long after opening (or after its previous response) is closed.")
    body_timeout_s: float = Field(60.0, gt=0, description="Longest a request body may take to arrive after "
                                  "its headers (408 and the connection closed after).")
    max_connections: int = Field(8192, ge=1, description="Open connections (or requests in progress) above "
                                 "which a new request gets 503 and its connection is closed.")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    log_format: Literal["json", "text"] = Field("text", description="json: one JSON object per line "
                                                "(for log shippers); text: for people.")

    @property
    def api_key_list(self) -> list[str]:
        return [k.strip() for k in (self.api_keys or "").split(",") if k.strip()]


class RMSettings(BaseModel):
    """The reward model: which one, where it runs (in process or on a remote engine) and how its queue batches."""

    rm_model: str | None = Field(
        None,
        description="HF hub id or local path of an AutoModelForSequenceClassification reward model. "
        "Unset: the embedded MiniLM reference-similarity scorer (no network needed).",
    )
    rm_trust_remote_code: bool = Field(False, description="Allow the model repo's own Python code.")
    rm_device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")
    rm_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto = bfloat16 on GPU, float32 on CPU."
    )
    rm_max_length: int = Field(4096, ge=16, description="Tokens per (prompt, response); longer inputs keep "
                               "the end of the response and are flagged truncated.")
    rm_system_prompt: str | None = Field(None, description="System turn added before the prompt "
                                         "(e.g. AceMath-RM's).")
    rm_input: Literal["auto", "chat", "pair"] = Field(
        "auto", description="How (prompt, response) reaches the RM: chat (its chat template), pair "
        "(tokenizer(question, answer), as DeBERTa-style RMs' cards do); auto: chat when the tokenizer has a "
        "template, else pair.",
    )
    rm_output: Literal["logits", "score"] = Field(
        "logits", description="Which model output is the reward: logits[:, 0], or .score (ArmoRM)."
    )
    rm_url: str | None = Field(None, description="Base URL(s), comma-separated, of a vLLM server started "
                               "with --runner pooling --convert classify that hosts HERO_RM_MODEL. Set: the RM "
                               "runs there (this server tokenizes, the engine runs the model); several URLs "
                               "are balanced with failover.")
    rm_served_model: str | None = Field(None, description="The model name the engine serves (its "
                                        "--served-model-name); unset: HERO_RM_MODEL.")
    rm_timeout_s: float = Field(60.0, gt=0, description="Deadline of one call to the RM engine.")
    rm_retries: int = Field(2, ge=0, description="Retries of a failed engine call (on another URL when "
                            "there is one) before its items get RM status error.")
    rm_concurrency: int = Field(64, ge=1, description="Engine calls in flight at once per replica; the "
                                "engine's scheduler batches them.")
    rm_health_interval_s: float = Field(2.0, gt=0, description="How often the engine's /health is polled "
                                        "(/ready follows it).")
    max_batch_tokens: int = Field(16384, ge=16, description="Padded-token budget of one forward pass "
                                  "(max_len x n).")
    max_batch_size: int = Field(64, ge=1, description="Most items in one forward pass.")
    max_wait_ms: float = Field(5.0, ge=0, description="Longest a batch waits for company after its "
                               "first item.")
    max_queue: int = Field(8192, ge=1, description="Items queued for the RM before 429.")

    @property
    def rm_url_list(self) -> list[str]:
        """HERO_RM_URL split on commas, without trailing slashes."""
        return [u.strip().rstrip("/") for u in (self.rm_url or "").split(",") if u.strip()]


class VerifierSettings(BaseModel):
    """The verifier: its process pool, and the policy (``verifier_<field>`` for each VerifierPolicy field)."""

    verifier_workers: int = Field(default_factory=_default_workers, ge=1,
                                  description="Verifier worker processes.")
    verifier_timeout_s: float = Field(5.0, gt=0, description="Deadline per verified item.")
    verifier_max_tasks: int = Field(500, ge=1, description="Tasks before a worker is recycled.")
    verifier_memory_mb: int = Field(2048, ge=128, description="Address-space rlimit per worker.")
    verifier_batch_size: int = Field(8, ge=1, description="Most distinct pairs sent to a worker in one task.")
    verifier_cache_size: int = Field(65536, ge=0, description="Verdicts remembered by (reference, answer).")
    verifier_assignment: bool = Field(True, description="Gold 5 accepts the answer x=5 (and (p,q)=(1,2)).")
    verifier_percent: PercentPolicy = Field(
        "either", description="50% equals: 0.5 and 50 (either), only 0.5 (fraction), only 50 (number).")
    verifier_bare_list: ListPolicy = Field(
        "set", description="An unbracketed list 3, 5 is a set (set) or a sequence (ordered).")
    verifier_rounded_reference: bool = Field(True, description="A decimal gold (3.14) accepts an exact "
                                             "answer that rounds to it (pi).")
    verifier_approximate_digits: int = Field(5, ge=0, description="Significant digits a decimal answer needs to "
                                             "stand for an irrational gold (1.7321 for sqrt 3); 0: never.")
    verifier_approximate_rationals: bool = Field(False, description="Also let such a decimal stand for a "
                                                 "rational gold (0.33333 for 1/3), and a rounded decimal gold "
                                                 "for a fraction (0.33 for 1/3).")
    verifier_ratio: RatioPolicy = Field(
        "fraction", description="A ratio a:b equals the fraction a/b and a:b = 2a:2b (fraction), or only "
        "the same parts in order (parts). Clock times 4:30 always compare by parts.")
    verifier_interval_inequality: bool = Field(True, description="x > 2 equals (2, infinity).")
    verifier_vector_tuple: bool = Field(True, description="A column vector equals the tuple of its entries.")
    verifier_units: bool = Field(True, description="Strip trailing units, degrees and currency (both sides' "
                                 "units must match when both give one).")
    verifier_max_answer_chars: int = Field(1000, ge=1, description="Longer extracted answers are unparsable.")

    @property
    def verifier_policy(self) -> VerifierPolicy:
        """The policy from its ``verifier_<field>`` settings: a new policy field needs only its setting."""
        values = {f.name: getattr(self, f"verifier_{f.name}") for f in dataclasses.fields(VerifierPolicy)}
        values["approximate_digits"] = values["approximate_digits"] or None  # 0: never, as in a request
        return VerifierPolicy(**values)


class StateSettings(BaseModel):
    """Where groups are assembled and sigma_ref lives: this process, or Redis shared by replicas."""

    group_deadline_s: float = Field(60.0, gt=0, description="Seconds after a group's first part "
                                    "before it is scored as partial.")
    state_url: str | None = Field(None, description="Unset: groups and sigma_ref live in this process (one "
                                  "replica). redis://host:6379/0 (or rediss://): shared by every replica, "
                                  "needed when per-sample trainers talk to more than one replica.")
    state_password: str | None = Field(None, description="Password for HERO_STATE_URL (from a Secret); "
                                       "overrides one in the URL.")
    state_prefix: str = Field("hero", min_length=1, description="Key prefix in Redis; replicas that "
                              "share groups must share it.")
    state_ttl_s: float = Field(3600.0, gt=0, description="Lifetime of every Redis key after its last "
                               "write, so nothing leaks when a replica dies; above HERO_GROUP_DEADLINE_S.")


class RewardSettings(BaseModel):
    """Default reward parameters (a request's params override them) and the sigma_ref per session."""

    mode: Mode = Field(_DEFAULTS.mode, description="hero, verifier, rm or blend.")
    preset: Preset = Field("paper-appendix", description="Weighting preset: paper-appendix "
                           "(0.4/3.0/6) or paper-main-text (0.5/2.0/5).")
    w_min: float | None = Field(None, gt=0, description="Weight floor; unset: from the preset.")
    w_max: float | None = Field(None, gt=0, description="Weight ceiling; unset: from the preset.")
    k: float | None = Field(None, gt=0, description="Weight steepness; unset: from the preset.")
    alpha: float = Field(_DEFAULTS.alpha, gt=0, le=1, description="Half-width of the wrong-answer band [-a, a].")
    beta: float = Field(_DEFAULTS.beta, gt=0, le=1, description="Half-width of the right-answer band [1-b, 1+b].")
    eps: float = Field(_DEFAULTS.eps, gt=0, description="Min-max denominator guard.")
    singleton_z: float = Field(_DEFAULTS.singleton_z, ge=0, le=1, description="z for a stratum with one member or no "
                               "spread (0 = band floor, 0.5 = band middle).")
    dense: Dense = Field(_DEFAULTS.dense, description="Which strata get dense bands.")
    weighting: bool = Field(_DEFAULTS.weighting, description="Variance-aware weight on or off.")
    blend_lambda: float = Field(_DEFAULTS.blend_lambda, ge=0, le=1, description="Verifier weight in mode=blend.")
    sigma_momentum: float = Field(
        0.9 ** (1 / 512), gt=0, lt=1,
        description="EMA momentum of sigma_ref per completed group (default: 512 groups decay like 0.9).",
    )
    max_sessions: int = Field(1024, ge=1, description="sigma_ref sessions kept (least recent dropped).")


class LimitSettings(BaseModel):
    """What one request may ask for: its size and how long it may take."""

    max_groups: int = Field(4096, ge=1, description="Most group entries in one request (413 above).")
    max_responses: int = Field(16384, ge=1, description="Most responses in one request (413 above).")
    max_chars: int = Field(64_000_000, ge=1, description="Most characters of prompts, references and "
                           "responses in one request (413 above).")
    max_body_mb: float = Field(32.0, gt=0, description="Largest request body accepted (413 above).")
    request_timeout_s: float = Field(170.0, gt=0, description="Longest a scoring request may take "
                                     "(then 503 with Retry-After; /get_reward answers zeros flagged server_error). "
                                     "Keep it above HERO_GROUP_DEADLINE_S and below the trainer's client timeout "
                                     "(OpenRLHF: 180 s).")


class Settings(ServerSettings, RMSettings, VerifierSettings, StateSettings, RewardSettings, LimitSettings,
               BaseSettings):
    """Every knob of the server, in sections (each a model of its own that a part can take alone). Each
    field is ``HERO_<NAME>`` in the environment, whatever its section."""

    model_config = SettingsConfigDict(env_prefix="HERO_", env_ignore_empty=True, extra="ignore")

    @model_validator(mode="after")
    def _check_bands(self) -> Settings:
        # The math's own rules, spelled with the variables' names (a ParamsError is a ValueError).
        check_bands(self.alpha, self.beta, _variable)
        if self.w_min is not None and self.w_max is not None:
            check_weights(self.w_min, self.w_max, _variable)
        if self.request_timeout_s <= self.group_deadline_s:
            raise ValueError(
                f"HERO_REQUEST_TIMEOUT_S ({self.request_timeout_s}) must exceed HERO_GROUP_DEADLINE_S "
                f"({self.group_deadline_s}), or a part waiting for its group times out before the group is "
                "scored as partial."
            )
        if self.state_ttl_s <= self.group_deadline_s:
            raise ValueError(f"HERO_STATE_TTL_S ({self.state_ttl_s}) must exceed HERO_GROUP_DEADLINE_S "
                             f"({self.group_deadline_s}), or a waiting group's record expires before its deadline.")
        if self.state_url is not None and not self.state_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"HERO_STATE_URL must start with redis://, rediss:// or unix:// (got "
                             f"{self.state_url.split('://')[0]}://...); unset it for in-memory state.")
        if self.rm_model is not None and not self.rm_model.strip():
            raise ValueError("HERO_RM_MODEL is empty; unset it for the embedded default, or give a hub "
                             "id or a local path.")
        if self.rm_url is not None:
            if self.rm_model is None:
                raise ValueError("HERO_RM_URL needs HERO_RM_MODEL: this server renders and tokenizes with "
                                 "the model's own tokenizer and chat template before the engine scores.")
            if self.rm_output != "logits":
                raise ValueError("HERO_RM_OUTPUT=score cannot be read from a remote engine: vLLM's /classify "
                                 "returns the classification head (logits); unset HERO_RM_URL for ArmoRM.")
            for url in self.rm_url_list:
                if not url.startswith(("http://", "https://")):
                    raise ValueError(f"HERO_RM_URL entries must start with http:// or https:// (got {url!r}).")
            if not self.rm_url_list:
                raise ValueError("HERO_RM_URL holds no URL; unset it to run the RM in this process.")
        return self


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per problem of ``Settings(...)``, naming the variable to fix. A check across settings has
    no single field: its message names the variables itself."""
    prefix = Settings.model_config.get("env_prefix", "")
    lines = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        message = str(cause) if isinstance(cause, ValueError) else error["msg"]  # without "Value error, "
        field = "_".join(str(p) for p in error["loc"]).upper()
        lines.append(f"{prefix}{field}: {message}" if field else message)
    return lines
