"""JSON Schema of flow files, so editors can complete and check them as managers type."""

from __future__ import annotations

from typing import Any

from ivr.flow.model import Flow


def flow_schema() -> dict[str, Any]:
    """The schema that `flows/flow.schema.json` holds (a test keeps the two equal)."""
    schema = Flow.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "IVR call flow"
    return schema
