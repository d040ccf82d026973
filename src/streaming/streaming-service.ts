import DataLoader from "dataloader";
import type { AppContext } from "../app/app-context.js";
import { RUN_STREAM_PREFIX } from "../runs/events.js";
import { FanoutHub } from "./fanout/fanout-hub.js";
import { type FollowOptions, followStream, type StreamItem } from "./follow-stream.js";
import { StreamHub } from "./live-feed.js";
import { RunWorkspaces } from "./run-workspaces.js";
import { StreamDemux } from "./stream-demux.js";
import { runEventSource, type StreamSource } from "./stream-source.js";

/**
 * The streaming core as the API uses it: one hub of live feeds per application context (per
 * process), with the limits of the configuration.
 */
export class StreamingService {
  readonly hub: StreamHub;
  readonly workspaces: RunWorkspaces;
  /** The SSE fan-out (distinct-connections runEvents and events): one execution per event and group. */
  readonly fanout: FanoutHub;
  /** One store subscription for the live feeds of all runs, demultiplexed by stream. */
  readonly runStreams: StreamDemux;
  /**
   * Whether a run is in the read model, asked by every followed run's live feed at the same moment
   * (the hub's one timer): the asks of one moment go to the database as one query.
   */
  readonly runInReadModel: DataLoader<string, boolean>;

  constructor(private readonly app: AppContext) {
    const config = app.config;
    this.hub = new StreamHub({
      retryInitialMs: config.STREAM_RETRY_INITIAL_MS,
      retryMaxMs: config.STREAM_RETRY_MAX_MS,
      existsCheckMs: config.STREAM_KEEPALIVE_MS,
      logger: app.logger.child({ component: "streaming" }),
    });
    this.workspaces = new RunWorkspaces(app.store);
    this.runStreams = new StreamDemux(app.store, RUN_STREAM_PREFIX, {
      logger: app.logger.child({ component: "streaming" }),
    });
    this.runInReadModel = new DataLoader(
      async (ids) => {
        const rows = await app.prisma.run.findMany({ where: { id: { in: [...ids] } }, select: { id: true } });
        const found = new Set(rows.map((row) => row.id));
        return ids.map((id) => found.has(id));
      },
      { cache: false, maxBatchSize: 1_000 },
    );
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

  /** One run's events, followed live through the shared run-streams subscription. */
  runSource(runId: string, exists?: () => Promise<boolean>): StreamSource<number> {
    return runEventSource(this.app.store, runId, exists, this.runStreams);
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
