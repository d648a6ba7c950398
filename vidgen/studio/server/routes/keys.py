"""API keys over the API, for an admin key: create, list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request

from vidgen.studio.server.deps import AdminDep, StateDep, body_schema, parse, read_body
from vidgen.studio.server.errors import ApiError
from vidgen.studio.server.schemas import CreateKey

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", openapi_extra=body_schema(CreateKey))
async def create_key(request: Request, state: StateDep, _: AdminDep) -> dict:
    """A new key; its secret is in the response once and never again."""
    fields, _files = await read_body(request, 1 << 16)
    body = parse(CreateKey, fields)
    quota = state.settings.default_quota_s if body.quota_s is None else body.quota_s
    key, secret = state.keys.create(body.name, body.admin, quota)
    return {**key.public(), "secret": secret}


@router.get("")
def list_keys(state: StateDep, _: AdminDep) -> dict:
    return {"object": "list", "data": [k.public() for k in state.keys.list()]}


@router.delete("/{key_id}")
def revoke_key(key_id: str, state: StateDep, _: AdminDep) -> dict:
    if not state.keys.revoke(key_id):
        raise ApiError(404, f"no live key with id {key_id!r}", "key_id", "not_found")
    return {"id": key_id, "object": "api_key.revoked", "revoked": True}
