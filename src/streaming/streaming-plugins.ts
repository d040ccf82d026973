import type { Plugin } from "graphql-yoga";
import type { AppContext } from "../app/app-context.js";
import { authenticate } from "../auth/authenticate.js";
import { useSseFanout } from "./fanout/sse-fanout-plugin.js";
import { useSingleConnectionSse } from "./single-connection-sse.js";
import { useSseResultProcessor } from "./sse-result-processor.js";
import { useStreamCursors } from "./stream-cursors.js";

/**
 * What subscriptions add to the Yoga server: cursors in every streamed result (`extensions.cursor`),
 * the SSE processor writing them as `id:` lines with configurable keep-alives (distinct connections:
 * GET/POST /graphql with `Accept: text/event-stream`), and the single-connection mode at
 * /graphql/stream.
 */
export function streamingPlugins(app: AppContext): Plugin[] {
  const keepAliveMs = app.config.STREAM_KEEPALIVE_MS;
  return [
    useStreamCursors(),
    useSseResultProcessor(keepAliveMs, app.config.STREAM_RETRY_INITIAL_MS),
    // After the processor above: for the streams it takes over, its processor is the one used.
    useSseFanout(app),
    useSingleConnectionSse({
      maxQueued: app.config.STREAM_MAX_BUFFERED_EVENTS,
      keepAliveMs,
      reservations: {
        ttlMs: app.config.STREAM_RESERVATION_TTL_MS,
        maxPerToken: app.config.MAX_STREAM_RESERVATIONS_PER_TOKEN,
        callerTokenId: async (request) => (await authenticate(app.db.pool, request)).tokenId,
      },
    }),
  ];
}
