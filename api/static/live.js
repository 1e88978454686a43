// A run's page follows its event stream: points and epochs as they are stored, then its final status.
import { followEvents, json } from "./api.js";

/**
 * Call `onPoints(columns)`, `onEpoch(row)` and `onStatus(run)` for a run's progress: from its event stream
 * while it runs, from one read of its curves once it has ended. Counts the events on `counter.dataset.events`.
 */
export async function followRun(run, { onPoints, onEpoch, onStatus, onError, counter }) {
  const path = `/runs/${encodeURIComponent(run.id)}`;
  if (run.is_terminal) {
    const curves = await json(`${path}/curves?max_points=4000`);
    if (run.kind === "lr_find") onPoints(curves);
    else {
      onPoints(curves.batch);
      const epochs = curves.epochs;
      (epochs.epoch ?? []).forEach((_, i) => onEpoch(Object.fromEntries(
        Object.entries(epochs).map(([key, values]) => [key, values[i]]))));
    }
    onStatus(run);
    return () => {};
  }
  let ended = false;
  let received = 0;
  counter.dataset.events = "0";
  counter.dataset.streaming = "true";
  return followEvents(`${path}/events`, {
    onEvent(event) {
      received += 1;
      counter.dataset.events = String(received);
      const data = JSON.parse(event.data);
      if (event.type === "points") onPoints(data);
      else if (event.type === "epoch") onEpoch(data);
      else if (event.type === "status") {
        ended = data.is_terminal;
        onStatus(data);
        if (ended) counter.dataset.streaming = "false";
      }
    },
    isDone: () => ended,
    onError,
  });
}
