"""``/docs``: the interactive API reference, served whole from this server (no CDN), so it works offline.

Swagger UI's assets come from the ``fastapi-offline`` package (which tracks the Swagger UI release FastAPI uses)
and are mounted at ``/static/swagger-ui``; the page starts Swagger UI from ``/static/docs.js``, not from an inline
script, so the Content-Security-Policy stays ``script-src 'self'``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from civicswitch.web.maps import LEAFLET_DIR
from civicswitch.web.pages import templates
from civicswitch.web.public_map import MARKERCLUSTER_DIR

STATIC = Path(__file__).parent / "static"
SWAGGER_UI = Path(str(files("fastapi_offline") / "static"))

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    openapi_url = request.app.openapi_url or "/openapi.json"
    page = templates.get_template("docs.html").render(
        title=request.app.title, root=root, openapi_url=root + openapi_url
    )
    return HTMLResponse(page)


def install(app: FastAPI) -> None:
    """The /docs page and the static files it and the other pages need."""
    app.mount("/static/swagger-ui", StaticFiles(directory=SWAGGER_UI), name="swagger-ui")
    app.mount("/static/leaflet", StaticFiles(directory=LEAFLET_DIR), name="leaflet")  # web/maps.py
    app.mount("/static/leaflet-markercluster", StaticFiles(directory=MARKERCLUSTER_DIR), name="markercluster")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
