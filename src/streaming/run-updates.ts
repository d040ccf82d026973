import type { AppContext } from "../app/app-context.js";
import { aborted, raceAbort } from "../shared/abortable.js";
import type { StreamItem } from "./follow-stream.js";
import type { StreamSource } from "./stream-source.js";
import type { StreamingService } from "./streaming-service.js";

/**
 * "Load the run now": the resolver loads the read model and records the revision it showed in
 * `shown`, so that events the read model already reflected do not cause another load.
 */
export interface RunTick {
  kind: "run";
  shown: { revision: number };
}

/**
 * runUpdated: the run's current state first, then again each time one of its events is applied to
 * the read model (the projection is awaited, so each state includes the event that caused it).
 */
export async function* followRunUpdates(
  app: AppContext,
  streaming: StreamingService,
  source: StreamSource<number>,
  signal: AbortSignal,
): AsyncGenerator<RunTick | StreamItem> {
  const shown = { revision: -1 };
  const timeoutMs = app.config.READ_YOUR_WRITES_TIMEOUT_MS;
  const projected = async (position: string) => {
    const waited = await raceAbort(
      app.projections.waitFor(position, timeoutMs).catch(() => undefined),
      signal,
    );
    return waited !== aborted;
  };
  // The first state includes every event stored when the client subscribed.
  const [last] = await app.store.readStream(source.key, {
    after: ((await app.store.streamRevision(source.key)) ?? 0) - 1,
    maxCount: 1,
  });
  if (last && !(await projected(last.position))) return;
  yield { kind: "run", shown };
  for await (const item of streaming.follow(source, shown.revision, "runUpdated", signal)) {
    if (item.kind !== "event") {
      yield item;
      continue;
    }
    if (item.event.revision <= shown.revision) continue;
    if (!(await projected(item.event.position))) return;
    yield { kind: "run", shown };
  }
}
