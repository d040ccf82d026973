import type { AppContext } from "../app/app-context.js";
import { type FollowOptions, followStream, type StreamItem } from "./follow-stream.js";
import { StreamHub } from "./live-feed.js";
import { RunWorkspaces } from "./run-workspaces.js";
import type { StreamSource } from "./stream-source.js";

/**
 * The streaming core as the API uses it: one hub of live feeds per application context (per
 * process), with the limits of the configuration.
 */
export class StreamingService {
  readonly hub: StreamHub;
  readonly workspaces: RunWorkspaces;

  constructor(private readonly app: AppContext) {
    const config = app.config;
    this.hub = new StreamHub({
      retryInitialMs: config.STREAM_RETRY_INITIAL_MS,
      retryMaxMs: config.STREAM_RETRY_MAX_MS,
      existsCheckMs: config.STREAM_KEEPALIVE_MS,
      logger: app.logger.child({ component: "streaming" }),
    });
    this.workspaces = new RunWorkspaces(app.store);
  }

  follow<Cursor>(
    source: StreamSource<Cursor>,
    after: Cursor,
    kind: string,
    signal: AbortSignal,
  ): AsyncGenerator<StreamItem> {
    const config = this.app.config;
    const options: FollowOptions = {
      signal,
      kind,
      maxBufferedEvents: config.STREAM_MAX_BUFFERED_EVENTS,
      maxDurationMs: config.STREAM_MAX_DURATION_MS,
      retryInitialMs: config.STREAM_RETRY_INITIAL_MS,
      retryMaxMs: config.STREAM_RETRY_MAX_MS,
    };
    return followStream(this.hub, source, after, options);
  }
}

const services = new WeakMap<AppContext, StreamingService>();

export function streamingFor(app: AppContext): StreamingService {
  let service = services.get(app);
  if (!service) {
    service = new StreamingService(app);
    services.set(app, service);
  }
  return service;
}
