"""What routes depend on: the server state, the caller's key, and the request body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from vidgen.pipelines.spec import ModelSpec
from vidgen.studio.keys import Key, KeyStore
from vidgen.studio.server.errors import ApiError
from vidgen.studio.server.gate import PolicyGate
from vidgen.studio.server.settings import Settings


@dataclass
class State:
    settings: Settings
    queue: object  # SQLiteQueue | RedisQueue
    keys: KeyStore
    gate: PolicyGate = field(default_factory=PolicyGate)
    _spec: ModelSpec | None = None

    @property
    def spec(self) -> ModelSpec:
        """The served model's geometry, read from its weights' headers on first use."""
        if self._spec is None:
            try:
                self._spec = ModelSpec.read(self.settings.model)
            except (FileNotFoundError, ValueError, KeyError) as e:
                raise ApiError(503, f"the served model is not available: {e}", "model") from e
        return self._spec


# dependencies are async: FastAPI runs them on the event loop instead of hopping to a thread;
# each is a dictionary read or one indexed SQLite lookup (microseconds)
async def get_state(request: Request) -> State:
    return request.app.state.vidgen


async def current_key(
    state: Annotated[State, Depends(get_state)],
    authorization: Annotated[str | None, Header()] = None,
) -> Key:
    if not authorization:
        raise ApiError(401, "missing API key: send the header 'Authorization: Bearer <key>'")
    scheme, _, secret = authorization.partition(" ")
    key = state.keys.authenticate(secret.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        raise ApiError(401, "invalid or revoked API key", code="invalid_api_key")
    return key


async def admin_key(key: Annotated[Key, Depends(current_key)]) -> Key:
    if not key.admin:
        raise ApiError(403, "this route needs an admin key")
    return key


StateDep = Annotated[State, Depends(get_state)]
KeyDep = Annotated[Key, Depends(current_key)]
AdminDep = Annotated[Key, Depends(admin_key)]


async def read_body(request: Request, max_bytes: int) -> tuple[dict, dict[str, bytes]]:
    """JSON or multipart/form-data (as the OpenAI SDK sends): (fields, uploaded files)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes + 65536:
        raise ApiError(413, f"request body is larger than {max_bytes // 2**20} MB")
    if ctype in ("", "application/json"):
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise ApiError(400, "body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "body must be a JSON object")
        return body, {}
    if ctype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise ApiError(415, "Content-Type must be application/json or multipart/form-data")
    try:
        form = await request.form(max_files=4, max_fields=64)
    except Exception as e:  # malformed multipart
        raise ApiError(400, f"malformed form data: {e}") from None
    fields, files = {}, {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise ApiError(413, f"{name} is larger than {max_bytes // 2**20} MB", name)
            files[name] = data
        elif "[" in name and name.endswith("]"):  # the SDK's nested form: video[id]=...
            outer, inner = name[:-1].split("[", 1)
            fields.setdefault(outer, {})
            if isinstance(fields[outer], dict):
                fields[outer][inner] = value
        else:
            fields[name] = value
    return fields, files


def parse(model: type[BaseModel], fields: dict) -> BaseModel:
    """Validate fields into a schema; the first problem becomes a 400 naming the field."""
    try:
        return model.model_validate(fields)
    except ValidationError as e:
        first = e.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise ApiError(400, f"{param}: {first['msg']}", param, "invalid_value") from None


def body_schema(model: type[BaseModel], files: tuple[str, ...] = ()) -> dict:
    """openapi_extra for a route that takes JSON or multipart with the same fields."""
    schema = _inline(model.model_json_schema())
    form = json.loads(json.dumps(schema))
    for name in files:
        form.setdefault("properties", {})[name] = {"type": "string", "format": "binary"}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema},
                        "multipart/form-data": {"schema": form}},
        }
    }  # fmt: skip


def _inline(schema: dict) -> dict:
    """A JSON schema with its local $defs references written out (they do not resolve inside
    an operation's requestBody)."""
    defs = schema.pop("$defs", {})

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.split("/")[-1]])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)
