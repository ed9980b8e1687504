""" "Is it fixed?" pages for residents, in their language (requests/answers.py says what an answer does).

``GET /requests/{number}/fixed`` asks; the closure message links here with the reader's signed link (``token``)
and the answer they clicked already chosen (``answer``), and the request's page links here without a token (a
visitor). Opening the page records nothing (mail scanners open links): the resident presses "Send answer" (a
POST). The answer is recorded then, and a filer or follower is asked one more question, how satisfied they are
(``POST /requests/{number}/rating``). Every form works without JavaScript; a problem is said on the form, in the
page's language, with a link to the field.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from civicswitch.core.errors import DomainError, NotFound
from civicswitch.people.links import LINK_HOLDER, FixedLinks, LinkProblem
from civicswitch.people.policy import RESIDENT_ON_THE_WEB
from civicswitch.requests.answers import Question, answer_fix, fix_question, rate_service
from civicswitch.requests.commands import AnswerFix, RateService, Upload
from civicswitch.requests.handlers import MAX_DESCRIPTION
from civicswitch.requests.model import RATINGS, Answer
from civicswitch.requests.reporting import Problem, check_email, check_photo
from civicswitch.web.context import context
from civicswitch.web.principals import session_secret
from civicswitch.web.report import _limits, _uploads
from civicswitch.web.residents import _number, language, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
MAX_TOKEN = 1000
MAX_EMAIL = 320
# the fields a problem links to (the first radio button of a group)
ANCHORS = {"answer": "answer-fixed", "note": "note", "photo": "photo", "email": "email", "rating": "rating-1"}


def fixed_links(request: Request) -> FixedLinks:
    """The signer of this instance's "Is it fixed?" links (the outbox signs them with the same secret)."""
    ctx = context(request)
    return FixedLinks(session_secret(ctx), ctx.base_url(request))


def _page(request: Request, status: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, "track_fixed.html", status, nav="track", anchors=ANCHORS,
                      ratings=list(RATINGS), problems=values.pop("problems", {}), **values)  # fmt: skip
    response.headers["cache-control"] = "no-store"  # a page with a resident's link in it
    return response


def _text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


async def _question(request: Request, number: int, token: str) -> Question:
    ctx = context(request)
    links = await run_in_threadpool(fixed_links, request)
    return await run_in_threadpool(lambda: fix_question(ctx.reader(), ctx.clock, number, token, links,
                                                        language(request)))  # fmt: skip


async def _ask(request: Request, number: str, token: str, status: int = 200, **values: Any) -> Response:
    """The question page, or the page saying why it cannot be asked (an unknown request, a bad link)."""
    if not _number(number[:100]):
        return render(request, "track_lookup.html", 404, nav="track", number=number[:100], problem="unknown")
    try:
        question = await _question(request, int(number), token)
    except NotFound:
        log.info("fixed page: no request %r", number)
        return render(request, "track_lookup.html", 404, nav="track", number=number, problem="unknown")
    except LinkProblem as problem:
        log.info("fixed link refused (page): %s", problem)
        return _page(request, 400, number=int(number), link_problem=str(problem))
    return _page(request, status, q=question, token=token, **values)


@router.get("/requests/{number}/fixed", response_class=HTMLResponse)
async def ask(request: Request, number: str, token: str = "", answer: str = "") -> Response:
    chosen = answer if answer in tuple(Answer) else ""
    return await _ask(request, number, token[:MAX_TOKEN], chosen=chosen)


def _problems(form_answer: str, note: str, email: str, uploads: tuple[Upload, ...], request: Request,
              question: Question) -> dict[str, Problem]:  # fmt: skip
    """Each field's problem at once, in words the page gives in its language."""
    problems: dict[str, Problem] = {}
    if form_answer not in tuple(Answer):
        problems["answer"] = Problem("required")
    if len(note) > MAX_DESCRIPTION:
        problems["note"] = Problem("too_long", str(MAX_DESCRIPTION))
    if form_answer == Answer.NOT_FIXED:
        if uploads and (wrong := check_photo(uploads[0], _limits(request), context(request).clock.now())):
            problems["photo"] = wrong
        if question.email_needed and not email:
            problems["email"] = Problem("required")
        elif email and (check_email(email) is not None or len(email) > MAX_EMAIL):
            problems["email"] = Problem("invalid")
    return problems


@router.post("/requests/{number}/fixed", response_class=HTMLResponse)
async def send(request: Request, number: str) -> Response:
    """Records the answer and shows what came of it (and, to a filer or follower, the rating question)."""
    ctx = context(request)
    form = await request.form()
    token = _text(form, "token", MAX_TOKEN)
    form_answer = _text(form, "answer", 20)
    note = _text(form, "note", MAX_DESCRIPTION + 1).strip()
    email = _text(form, "email", MAX_EMAIL + 1).strip()
    uploads = await _uploads(form)
    if not _number(number[:100]):
        return render(request, "track_lookup.html", 404, nav="track", number=number[:100], problem="unknown")
    try:
        question = await _question(request, int(number), token)
    except NotFound:
        return render(request, "track_lookup.html", 404, nav="track", number=number, problem="unknown")
    except LinkProblem as problem:
        log.info("fixed answer refused: %s", problem)
        return _page(request, 400, number=int(number), link_problem=str(problem))
    typed = {"chosen": form_answer, "note": note, "email": email}
    if not question.askable:
        return _page(request, 409, q=question, token=token, **typed)
    problems = await run_in_threadpool(_problems, form_answer, note, email, uploads, request, question)
    if problems:
        log.info("fixed answer refused: %s", ", ".join(f"{k}={p.code}" for k, p in sorted(problems.items())))
        return _page(request, 400, q=question, token=token, problems=problems, **typed)
    cmd = AnswerFix(
        service_request_id=int(number), answer=form_answer, principal=LINK_HOLDER if token else RESIDENT_ON_THE_WEB,
        token=token, note=note, uploads=uploads, email=email, language=language(request),
    )  # fmt: skip
    links = await run_in_threadpool(fixed_links, request)
    limits = await run_in_threadpool(_limits, request)
    try:
        result = await run_in_threadpool(
            lambda: answer_fix(ctx.writer(), ctx.clock, cmd, links, limits, ctx.geography())
        )
    except DomainError as exc:  # changed meanwhile (reopened by someone else, the service closed …)
        log.info("fixed answer refused on recording: %s", exc.description)
        refused = {"answer": Problem("refused", exc.description)}
        return _page(request, exc.code, q=question, token=token, problems=refused, **typed)
    return _page(request, number=int(number), q=question, token=token, done=result)


@router.post("/requests/{number}/rating", response_class=HTMLResponse)
async def rate(request: Request, number: str) -> Response:
    """A filer's or follower's satisfaction (1–5), after their answer."""
    ctx = context(request)
    form = await request.form()
    token = _text(form, "token", MAX_TOKEN)
    rating = _text(form, "rating", 5)
    if not _number(number[:100]):
        return render(request, "track_lookup.html", 404, nav="track", number=number[:100], problem="unknown")
    links = await run_in_threadpool(fixed_links, request)
    cmd = RateService(service_request_id=int(number), rating=rating, token=token, principal=LINK_HOLDER)
    try:
        result = await run_in_threadpool(lambda: rate_service(ctx.writer(), ctx.clock, cmd, links))
    except LinkProblem as problem:
        log.info("rating refused: %s", problem)
        return _page(request, 400, number=int(number), link_problem=str(problem))
    except NotFound:
        return render(request, "track_lookup.html", 404, nav="track", number=number, problem="unknown")
    except DomainError as exc:
        log.info("rating refused: %s", exc.description)
        code = "required" if exc.field == "rating" else "refused"
        problems = {"rating": Problem(code, exc.description)}
        question = await _question(request, int(number), token)
        done = {"service_request_id": int(number), "can_rate": exc.field == "rating"}
        return _page(request, 400, q=question, token=token, problems=problems, done=done)
    question = await _question(request, int(number), token)
    return _page(request, number=int(number), q=question, token=token, rated=result)
