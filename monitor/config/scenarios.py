"""Pydantic models of stress-test scenario files (``config/scenarios/*.yaml``).

A scenario names its shocks (who cuts what, by how much, from which month, for how
long), the horizon, and optional buffer assumptions that override the ones in
``settings.yaml`` (``stress.buffers``). Checks against the catalog (node and chain
ids, HS codes, the home economy) are made by the loader
(:func:`monitor.config.loader.load_scenario`), which knows the catalog; errors name
the file and the field, e.g. ``cobalt.yaml: shocks[0].nodes[0]: ...``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from monitor.config.models import (
    BufferAssumptions,
    HsCode,
    Identifier,
    Names,
    StrictModel,
)

_NODE_REF = re.compile(r"^[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*$")


def _check_node_ref(value: str) -> str:
    if not _NODE_REF.match(value):
        raise ValueError(f"{value!r} is not a node reference: write chain/node, e.g. critical-minerals/cobalt")
    return value


NodeRef = Annotated[str, AfterValidator(_check_node_ref)]


class ShockConfig(StrictModel):
    """One shock of a scenario.

    ``nodes`` (``chain/node``) and ``chains`` say *where* a shock hits (their union;
    neither = every node of the catalog); ``products`` (HS codes; a code covers every
    longer code starting with it) say *what* (export cuts only; none = all the
    node's products). ``export_cut``: ``partner`` cuts its exports by ``cut_share``
    (1 = embargo). ``production_drop``: the domestic production of the nodes falls by
    ``cut_share``. ``logistics``: every import of the nodes is reduced by
    ``cut_share`` (ports, shipping; delayed goods count as lost).
    """

    kind: Literal["export_cut", "production_drop", "logistics"]
    partner: str | None = Field(default=None, description="exporting country, ISO 3166-1 alpha-3 (export_cut)")
    products: list[HsCode] = Field(default_factory=list, description="HS codes cut (export_cut)")
    nodes: list[NodeRef] = Field(default_factory=list, description="chain/node references")
    chains: list[Identifier] = Field(default_factory=list, description="every node of these chains")
    cut_share: float = Field(ge=0, le=1, description="share of the volume lost, 0-1 (1 = embargo, 0.3 = 30%)")
    start_month: int = Field(default=1, ge=1, le=120, description="first month in force (1 = scenario start)")
    months: int = Field(ge=1, le=120, description="how many months it lasts")
    recovery_months: int = Field(default=0, ge=0, le=60,
                                 description="months after the shock before supply is whole (cut falls linearly)")
    lead_time_days: float = Field(default=0, ge=0, le=365,
                                  description="logistics: extra transit days of every import (longer routes)")
    note: str | None = None

    @field_validator("partner")
    @classmethod
    def _partner_is_a_country(cls, value: str | None) -> str | None:
        import pycountry

        if value is not None and pycountry.countries.get(alpha_3=value) is None:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-3 country code")
        return value

    @model_validator(mode="after")
    def _fits_kind(self) -> ShockConfig:
        if self.lead_time_days and self.kind != "logistics":
            raise ValueError(f"lead_time_days: only logistics shocks take a lead time, this is {self.kind}")
        if self.kind == "export_cut":
            if self.partner is None:
                raise ValueError("partner: an export_cut shock needs the exporting country")
            if not (self.products or self.nodes or self.chains):
                raise ValueError("products: an export_cut shock needs products, nodes or chains")
        else:
            if self.partner is not None:
                raise ValueError(f"partner: only export_cut shocks take a partner, this is {self.kind}")
            if self.products:
                raise ValueError(f"products: only export_cut shocks take products, this is {self.kind}")
        if self.kind == "production_drop" and not (self.nodes or self.chains):
            raise ValueError("nodes: a production_drop shock needs the nodes whose output falls")
        return self


class Scenario(StrictModel):
    """A stress-test scenario file."""

    id: Identifier
    name: Names
    description: str = ""
    horizon_months: int = Field(ge=1, le=120, description="months simulated")
    homes: list[str] = Field(default_factory=list,
                             description="home economies (ISO3 or EU27) the scenario is written for; empty = any")
    shocks: list[ShockConfig] = Field(min_length=1)
    buffers: BufferAssumptions = BufferAssumptions()

    def applies_to(self, home: str) -> bool:
        """Whether the scenario is meant for a catalog whose home economy is ``home``."""
        return not self.homes or home in self.homes

    @model_validator(mode="after")
    def _shocks_within_horizon(self) -> Scenario:
        for i, shock in enumerate(self.shocks):
            if shock.start_month > self.horizon_months:
                raise ValueError(f"shocks[{i}].start_month: month {shock.start_month} is after the horizon "
                                 f"({self.horizon_months} months)")
        return self
