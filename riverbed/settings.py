"""Every setting of riverbed: the engine's and the pipeline's, plus those of the servers (HTTP
and MCP). Each field can be set as RIVERBED_<NAME>; the command line's global options win."""

from __future__ import annotations

from pydantic import Field, SecretStr

from pipeline.settings import PipelineSettings


class Settings(PipelineSettings):
    api_key: SecretStr | None = Field(
        None, description="When set, writes need `Authorization: Bearer <key>`; reads stay open."
    )
    max_request_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest request body the server accepts."
    )
