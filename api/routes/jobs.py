"""POST /lr-find and POST /train: accept a job, answer 202 with the queued run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Response

from api import examples
from api.deps import HotPathDep, OwnerDep, RequestIdDep, SettingsDep
from api.responses import LOCATION, Responses, problems
from api.submit import submit
from api.views import run_out
from store.jobspec import JobRequest, LRFindCreate, TrainCreate
from store.models import Run
from store.problems import ProblemCode
from store.schemas import RunOut

router = APIRouter(tags=["jobs"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeat a request safely: the same key and body return the run first created",
    ),
]
SUBMIT_PROBLEMS = (
    ProblemCode.UNAUTHORIZED,
    ProblemCode.BAD_REQUEST,
    ProblemCode.BODY_TOO_LARGE,
    ProblemCode.LIMIT_EXCEEDED,
    ProblemCode.DATASET_PATH_OUTSIDE_ROOTS,
    ProblemCode.CALLBACK_URL_NOT_ALLOWED,
    ProblemCode.IDEMPOTENCY_KEY_REUSED,
    ProblemCode.TOO_MANY_QUEUED,
)
ACCEPTED: Responses = {
    202: {"description": "Accepted: the run is queued; poll it at Location", "headers": LOCATION},
    200: {
        "model": RunOut,
        "description": "The run an earlier request with the same Idempotency-Key and body created",
        "headers": LOCATION,
    },
}


SubmitJob = Callable[[JobRequest], Awaitable[tuple[Run, bool]]]


async def get_submitter(
    owner: OwnerDep,
    hot: HotPathDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    idempotency_key: IdempotencyKey = None,
) -> SubmitJob:
    """`submit` bound to the request's owner, database, Idempotency-Key and X-Request-ID."""

    async def submit_job(body: JobRequest) -> tuple[Run, bool]:
        return await submit(
            hot=hot,
            settings=settings,
            owner=owner,
            body=body,
            idempotency_key=idempotency_key,
            request_id=request_id,
        )

    return submit_job


SubmitDep = Annotated[SubmitJob, Depends(get_submitter)]


def _answer(run: Run, created: bool, response: Response) -> RunOut:
    response.status_code = 202 if created else 200
    response.headers["Location"] = f"/runs/{run.id}"
    return run_out(run)


@router.post(
    "/lr-find",
    status_code=202,
    responses={**ACCEPTED, **problems(*SUBMIT_PROBLEMS)},
    summary="Queue a learning-rate range test",
)
async def create_lr_find(
    body: Annotated[LRFindCreate, Body(openapi_examples=examples.LR_FIND)],
    response: Response,
    submit_job: SubmitDep,
) -> RunOut:
    """Queue a range test; poll the run at `Location` and read its curve at `/runs/{id}/curves`."""
    return _answer(*await submit_job(body), response)


@router.post(
    "/train",
    status_code=202,
    responses={**ACCEPTED, **problems(*SUBMIT_PROBLEMS, ProblemCode.LR_FIND_NOT_USABLE)},
    summary="Queue a training run",
)
async def create_training(
    body: Annotated[TrainCreate, Body(openapi_examples=examples.TRAIN)],
    response: Response,
    submit_job: SubmitDep,
) -> RunOut:
    """Queue training; `schedule.from_lr_find` fills missing bounds from a succeeded range test of yours."""
    return _answer(*await submit_job(body), response)
