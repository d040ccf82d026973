import type { AppContext } from "../app/app-context.js";
import { FanoutHub } from "./fanout/fanout-hub.js";
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
  /** The SSE fan-out (distinct-connections runEvents and events): one execution per event and group. */
  readonly fanout: FanoutHub;

  constructor(private readonly app: AppContext) {
    const config = app.config;
    this.hub = new StreamHub({
      retryInitialMs: config.STREAM_RETRY_INITIAL_MS,
      retryMaxMs: config.STREAM_RETRY_MAX_MS,
      existsCheckMs: config.STREAM_KEEPALIVE_MS,
      logger: app.logger.child({ component: "streaming" }),
    });
    this.workspaces = new RunWorkspaces(app.store);
    this.fanout = new FanoutHub(this.hub, this.workspaces, {
      maxBufferedEvents: config.STREAM_MAX_BUFFERED_EVENTS,
      maxBufferedBytes: config.STREAM_MAX_BUFFERED_BYTES,
      maxBufferedBytesTotal: config.STREAM_MAX_BUFFERED_BYTES_TOTAL,
      maxDurationMs: config.STREAM_MAX_DURATION_MS,
      keepAliveMs: config.STREAM_KEEPALIVE_MS,
      reconnectMs: config.STREAM_RETRY_INITIAL_MS,
      retryInitialMs: config.STREAM_RETRY_INITIAL_MS,
      retryMaxMs: config.STREAM_RETRY_MAX_MS,
    });
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
