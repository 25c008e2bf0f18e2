"""The OpenAPI document states the error bodies as they are sent, and the docs pages need no internet."""

from __future__ import annotations

import re
from typing import Any

import httpx

from app.openapi import ErrorBody
from tests.conftest import make_channel

ERROR_REF = "#/components/schemas/ErrorBody"


async def _doc(anon: httpx.AsyncClient) -> dict[str, Any]:
    r = await anon.get("/openapi.json")
    assert r.status_code == 200
    return dict(r.json())


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


async def test_every_error_response_is_the_error_body(anon: httpx.AsyncClient) -> None:
    doc = await _doc(anon)
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["ErrorBody"]["properties"]["detail"]["type"] == "string"
    assert schemas["ErrorBody"]["required"] == ["detail"]
    for method, path, op in _operations(doc):
        for status, response in op["responses"].items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, (method, path)


async def test_statuses_follow_from_how_a_request_is_handled(anon: httpx.AsyncClient) -> None:
    ops = _operations(await _doc(anon))
    assert len(ops) > 20
    for method, path, op in ops:
        statuses = set(op["responses"])
        assert "401" in statuses, (method, path)  # every /api/v1 operation checks the key first
        if "{" in path:
            assert "404" in statuses, (method, path)
        if "requestBody" in op:
            assert {"400", "413", "422"} <= statuses, (method, path)
        if any(p["in"] in ("query", "header") for p in op.get("parameters", [])):
            assert "422" in statuses, (method, path)
        if not path.startswith("/api/v1/"):
            raise AssertionError(f"{path} is in the document but not under /api/v1")
    declared = {f"{m} {p}": set(op["responses"]) for m, p, op in ops}
    assert {"409"} <= declared["PATCH /api/v1/posts/{post_id}"]
    assert {"415"} <= declared["POST /api/v1/channels/{channel_id}/engagement"]
    assert {"400"} <= declared["GET /api/v1/posts"]


async def test_the_bodies_sent_match_the_schema(anon: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    answers = [
        await anon.get("/api/v1/channels"),                                      # 401
        await client.get("/api/v1/posts/nope"),                                  # 404
        await client.get("/api/v1/posts", params={"start": "yesterday"}),        # 422 from the service
        await client.post("/api/v1/posts", json={"text": 5}),                    # 422 from request validation
        await client.get("/api/v1/channels", params={"cursor": "forged"}),       # 400
        await client.post("/api/v1/channels", content=b"\x80\x81", headers={"content-type": "application/json"}),
        await client.post("/api/v1/posts", content=b"x" * 2_000_000,            # 413 from BodyLimit
                          headers={"content-type": "application/json"}),
    ]
    assert [a.status_code for a in answers] == [401, 404, 422, 422, 400, 400, 413]
    for answer in answers:
        body = ErrorBody.model_validate(answer.json())
        assert isinstance(body.detail, str) and body.detail, answer.text
    validation = answers[3].json()
    assert validation["errors"][0]["field"] == "body.text" and isinstance(validation["detail"], str)


async def test_docs_pages_load_their_assets_from_this_service(anon: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        r = await anon.get(page)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        csp = r.headers["content-security-policy"]  # nothing from elsewhere, not even ReDoc's vendor logo
        assert "default-src 'self'" in csp and "img-src 'self' data:;" in csp and "connect-src 'self'" in csp
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", r.text) + re.findall(r"url: '([^']+)'", r.text)
        assert urls, r.text
        assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], (page, urls)
        for url in urls:
            asset = await anon.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 100, url
    r = await anon.get("/docs")
    assert "/docs/assets/swagger-ui-bundle.js" in r.text and "/docs/assets/swagger-ui.css" in r.text
    assert '"validatorUrl": null' in r.text
    bundle = await anon.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"] and b"SwaggerUIBundle" in bundle.content
    assert (await anon.get("/docs/oauth2-redirect")).status_code == 200


async def test_a_nul_character_is_refused_with_the_field_not_a_500(client: httpx.AsyncClient) -> None:
    """PostgreSQL cannot store U+0000; schemathesis found it as a 500 on POST /api/v1/posts."""
    ch = await make_channel(client)
    cases = [
        (await client.post("/api/v1/posts", json={"text": "a\u0000b", "channel_ids": [ch["id"]]}), 422, "body.text"),
        (await client.post("/api/v1/posts", json={"text": "a", "channel_ids": [ch["id"], "x\u0000"]}), 422,
         "body.channel_ids[1]"),
        (await client.get("/api/v1/posts", params={"channel_id": "a\x00"}), 422, "channel_id"),
        (await client.patch(f"/api/v1/channels/{ch['id']}", json={"name": "\u0000"}), 422, "body.name"),
        (await client.post(f"/api/v1/channels/{ch['id']}/engagement", content=b"posted_at,likes\n\x00,1\n",
                           headers={"content-type": "text/csv"}), 422, "body"),
        (await client.get("/api/v1/posts/x%00y"), 404, None),
    ]
    for answer, status, field in cases:
        assert answer.status_code == status, answer.text
        body = answer.json()
        assert isinstance(body["detail"], str)
        if field:
            assert body["errors"][0]["field"] == field, body
    ok = await client.post("/api/v1/posts", json={"text": "a \\u0000 b, as typed", "channel_ids": [ch["id"]]})
    assert ok.status_code == 201 and ok.json()["text"] == "a \\u0000 b, as typed"
