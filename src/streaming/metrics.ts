import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * The process's one Prometheus registry, served at /metrics. Other features register their metrics
 * here too (`registers: [metricsRegistry]`) so that one scrape sees everything.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

/** `kind`: the subscription field (runEvents, runUpdated, events) or the core's own name for it. */
export const streamingMetrics = {
  activeSubscriptions: new Gauge({
    name: "runstream_stream_subscriptions_active",
    help: "Subscription streams open now, by kind",
    labelNames: ["kind"] as const,
    registers: [metricsRegistry],
  }),
  liveFeeds: new Gauge({
    name: "runstream_stream_live_feeds",
    help: "Live feeds shared by the subscribers of one stream (one per followed stream)",
    registers: [metricsRegistry],
  }),
  storeSubscriptions: new Gauge({
    name: "runstream_stream_store_subscriptions",
    help: "Store subscriptions shared by the live feeds of every followed run (one while any is followed)",
    registers: [metricsRegistry],
  }),
  feedEventsRead: new Counter({
    name: "runstream_stream_feed_events_read_total",
    help: "Events the live feeds read from the store (once per event, however many subscribers)",
    registers: [metricsRegistry],
  }),
  eventsDelivered: new Counter({
    name: "runstream_stream_events_delivered_total",
    help: "Events handed to subscribers, by kind",
    labelNames: ["kind"] as const,
    registers: [metricsRegistry],
  }),
  errors: new Counter({
    name: "runstream_stream_errors_total",
    help: "Stream errors by kind and reason (store_unavailable, slow_consumer, gone, failed)",
    labelNames: ["kind", "reason"] as const,
    registers: [metricsRegistry],
  }),
  catchUpEvents: new Histogram({
    name: "runstream_stream_catchup_events",
    help: "Stored events a subscriber replayed before it went live (its lag when it subscribed)",
    labelNames: ["kind"] as const,
    buckets: [0, 1, 10, 100, 1_000, 10_000, 100_000],
    registers: [metricsRegistry],
  }),
  catchUpSeconds: new Histogram({
    name: "runstream_stream_catchup_seconds",
    help: "Time from subscribing to going live",
    labelNames: ["kind"] as const,
    buckets: [0.005, 0.02, 0.1, 0.5, 2, 10, 60],
    registers: [metricsRegistry],
  }),
};
