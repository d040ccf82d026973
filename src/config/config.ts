import { z } from "zod";

/**
 * Every setting comes from the environment and is validated once at start, so a bad value stops the
 * process with a message naming the variable instead of failing later in some request.
 */
const booleanFlag = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((value) => value === "true" || value === "1" || value === "yes");

const ConfigSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default("0.0.0.0"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATA_DIR: z.string().min(1).default("./data"),
  EVENTSTORE_URL: z
    .string()
    .regex(/^(esdb|kurrentdb|kdb)(\+discover)?:\/\//, "must be an esdb:// connection string")
    .optional(),
  RUN_WORKER: booleanFlag.default(true),
  /** Largest accepted `input` of startRun, in bytes of its JSON text. */
  MAX_INPUT_BYTES: z.coerce.number().int().positive().default(1_000_000),
  /** How long a mutation waits for the read model to include its own events. */
  READ_YOUR_WRITES_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** Subscription streams */
  STREAM_MAX_DURATION_MS: z.coerce.number().int().positive().default(3_600_000),
  STREAM_KEEPALIVE_MS: z.coerce.number().int().positive().default(10_000),
  STREAM_MAX_BUFFERED_EVENTS: z.coerce.number().int().positive().default(1_000),
  /**
   * Bytes written to one SSE subscriber that the server still holds (past what the kernel's socket
   * buffers took in, tens of MB on loopback); over it: SLOW_CONSUMER.
   */
  STREAM_MAX_BUFFERED_BYTES: z.coerce.number().int().positive().default(1_048_576),
  /** The same, summed over every subscriber of the process. */
  STREAM_MAX_BUFFERED_BYTES_TOTAL: z.coerce.number().int().positive().default(268_435_456),
  STREAM_POLL_INTERVAL_MS: z.coerce.number().int().positive().default(1_000),
  /** Backoff of a stream whose store reads fail: first wait, doubled per failure up to the cap. */
  STREAM_RETRY_INITIAL_MS: z.coerce.number().int().positive().default(250),
  STREAM_RETRY_MAX_MS: z.coerce.number().int().positive().default(10_000),
  /** Worker */
  WORKER_CONCURRENCY: z.coerce.number().int().positive().default(4),
  LEASE_MS: z.coerce.number().int().positive().default(15_000),
  HEARTBEAT_MS: z.coerce.number().int().positive().default(5_000),
  MAX_TAKEOVERS: z.coerce.number().int().min(0).default(3),
  STALE_AFTER_MS: z.coerce.number().int().positive().default(600_000),
  SWEEP_INTERVAL_MS: z.coerce.number().int().positive().default(30_000),
  WORKER_POLL_MS: z.coerce.number().int().positive().default(1_000),
  /** Time budget of one step execution (a pipeline may set its own); over it, the step is stopped and fails. */
  STEP_TIMEOUT_MS: z.coerce.number().int().positive().default(300_000),
  /** Heap limit of each step executor thread, in MB: a step over it kills its thread, not the process. */
  STEP_MEMORY_MB: z.coerce.number().int().positive().default(1_024),
  /** Step executor threads per worker process; defaults to the cores available (at most WORKER_CONCURRENCY). */
  STEP_THREADS: z.coerce.number().int().positive().optional(),
  /** Authentication and limits (src/auth). Unset switches default to on, except in production. */
  GRAPHIQL: booleanFlag.optional(),
  GRAPHQL_INTROSPECTION: booleanFlag.optional(),
  MAX_QUERY_DEPTH: z.coerce.number().int().positive().default(12),
  /** GraphQL Armor's cost of an operation (objects 2, scalars 1, x1.5 per level, x`first` of lists). */
  MAX_QUERY_COMPLEXITY: z.coerce.number().int().positive().default(5_000),
  MAX_QUERY_ALIASES: z.coerce.number().int().positive().default(15),
  /** Tokens of a GraphQL document, counted while parsing (GraphiQL's introspection query has ~180). */
  MAX_QUERY_TOKENS: z.coerce.number().int().positive().default(2_000),
  /** Largest request body, in bytes; above MAX_INPUT_BYTES so the input's own check stays reachable. */
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(2_000_000),
  MAX_SUBSCRIPTIONS_PER_TOKEN: z.coerce.number().int().positive().default(20),
  /** Token bucket of commands (mutation fields) per API token: refill per second, and its size. */
  COMMAND_RATE_PER_SECOND: z.coerce.number().positive().default(20),
  COMMAND_BURST: z.coerce.number().int().positive().default(40),
  /** How often open streams re-check that their token is still valid (revocation). */
  AUTH_RECHECK_MS: z.coerce.number().int().positive().default(2_000),
  /** Largest output a step may store, in bytes of its JSON text; larger outputs are cut and flagged. */
  MAX_STEP_OUTPUT_BYTES: z.coerce.number().int().positive().default(2_000_000),
  /** Security (docs/security.md). Comma-separated exact origins allowed to read the API from a browser. */
  CORS_ORIGINS: z
    .string()
    .transform((value) =>
      value
        .split(",")
        .map((origin) => origin.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z.url().refine((url) => new URL(url).origin === url, "must be an origin: scheme://host[:port]"),
      ),
    )
    .default([]),
  /** A single-connection stream reservation (PUT /graphql/stream) not connected within this is dropped. */
  STREAM_RESERVATION_TTL_MS: z.coerce.number().int().positive().default(60_000),
  MAX_STREAM_RESERVATIONS_PER_TOKEN: z.coerce.number().int().positive().default(10),
  /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  /** When set, /metrics is served on this port only (bound to HOST), not on the API's port. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Largest response a query may produce, estimated from stored sizes before it is built. */
  MAX_RESPONSE_BYTES: z.coerce.number().int().positive().default(20_000_000),
  /** Large JSON values (input, output, alternatives, data) one request may select, lists multiplied by page size. */
  MAX_LARGE_VALUES_PER_REQUEST: z.coerce.number().int().positive().default(250),
  /** Queries able to return 25+ large JSON values (a page of runs with inputs) one token may run at once. */
  MAX_EXPENSIVE_QUERIES_PER_TOKEN: z.coerce.number().int().positive().default(2),
  /** What a request failing during a database outage tells its client to wait before retrying. */
  UNAVAILABLE_RETRY_AFTER_MS: z.coerce.number().int().positive().default(2_000),
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = ConfigSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${problems.join("\n")}`);
  }
  return parsed.data;
}
