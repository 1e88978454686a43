"""Files a run left behind: the trained weights of a training run."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.deps import RunDep, SettingsDep
from api.errors import ApiError
from api.responses import OWNED, problems
from store.problems import ProblemCode

router = APIRouter(prefix="/runs", tags=["runs"], responses=problems(*OWNED, ProblemCode.ARTIFACT_NOT_FOUND))
WEIGHTS = "model.pt"  # the worker's JobContext.weights_path: <artifact_dir>/<run id>/model.pt


@router.get(
    "/{run_id}/artifacts/model.pt",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
    summary="Download a run's trained weights",
)
def get_run_weights(run: RunDep, settings: SettingsDep) -> FileResponse:
    """The state dict `torch.save`d when training ended; 404 while it runs, or for a range test."""
    path = settings.resolved_artifact_dir / run.id / WEIGHTS
    if not path.is_file():
        raise ApiError(ProblemCode.ARTIFACT_NOT_FOUND, f"run {run.id} has no {WEIGHTS} (status {run.status})")
    return FileResponse(path, media_type="application/octet-stream", filename=f"{run.id}-{WEIGHTS}")
