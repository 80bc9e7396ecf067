"""The origin's OpenAPI document (crates/origin/src/openapi.yaml) is valid OpenAPI 3."""

import pathlib

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename


def test_openapi_document_is_valid():
    spec, _ = read_from_filename(str(pathlib.Path(__file__).resolve().parent.parent / "crates/origin/src/openapi.yaml"))
    validate(spec)
    assert "/v1/feedback" in spec["paths"]
