import type pg from "pg";
import type { ExpectedRevision, NewEvent } from "../event-store.js";

export interface AppendRequest {
  streamName: string;
  events: NewEvent[];
  expected: ExpectedRevision;
}

export interface AppendOutcome {
  status: "ok" | "duplicate" | "duplicate_id" | "wrong_revision";
  revision: number;
  /** Global position of the append's last event (of the stored one for a duplicate). */
  position: string | null;
}

interface Pending {
  request: AppendRequest;
  resolve(outcome: AppendOutcome): void;
  reject(error: unknown): void;
}

interface OutcomeRow {
  ord: number;
  status: AppendOutcome["status"];
  revision: string;
  position: string | null;
}

export interface AppendBatcherOptions {
  /** Groups sent at once; more overlap one group's commit with the next one's work. */
  maxInFlight?: number;
  /** Events per group at most (a single larger append still goes alone). */
  maxEvents?: number;
}

const APPEND_BATCH = "SELECT * FROM rs_append_batch($1::jsonb)";

const toJson = (request: AppendRequest) => ({
  stream: request.streamName,
  expect: typeof request.expected === "number" ? "exact" : request.expected,
  expected: typeof request.expected === "number" ? request.expected : null,
  events: request.events.map((event) => ({
    id: event.id,
    type: event.type,
    data: event.data,
    metadata: event.metadata ?? {},
    occurredAt: event.occurredAt.toISOString(),
  })),
});

/**
 * Group commit on the client: appends that arrive while earlier ones are in flight go together in
 * one transaction. A commit waits for the WAL flush, so a writer per transaction tops out at a few
 * thousand commits per second; grouped, concurrent writers share each flush. Each append is still
 * settled on its own (rs_append_batch reports a status per append), so grouping changes no result.
 */
export class AppendBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly maxEvents: number;

  constructor(
    private readonly pool: pg.Pool,
    options: AppendBatcherOptions = {},
  ) {
    this.maxInFlight = options.maxInFlight ?? 2;
    this.maxEvents = options.maxEvents ?? 2_000;
  }

  append(request: AppendRequest): Promise<AppendOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const group: Pending[] = [];
      let events = 0;
      while (this.queue.length > 0) {
        const next = this.queue[0] as Pending;
        if (group.length > 0 && events + next.request.events.length > this.maxEvents) break;
        group.push(next);
        events += next.request.events.length;
        this.queue.shift();
      }
      this.inFlight++;
      void this.send(group).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private async send(group: Pending[]): Promise<void> {
    let rows: OutcomeRow[];
    try {
      const result = await this.pool.query<OutcomeRow>({
        name: "rs_append_batch",
        text: APPEND_BATCH,
        values: [JSON.stringify(group.map((pending) => toJson(pending.request)))],
      });
      rows = result.rows;
    } catch (error) {
      // An error raised by one append (an id raced in by another stream, a deadlock) rolled back the
      // whole group: settle each append alone so that only the one at fault fails.
      if (group.length > 1 && !isConnectionError(error)) {
        await Promise.all(group.map((pending) => this.send([pending])));
        return;
      }
      for (const pending of group) pending.reject(error);
      return;
    }
    const byOrdinal = new Map(rows.map((row) => [row.ord, row]));
    group.forEach((pending, index) => {
      const row = byOrdinal.get(index + 1);
      if (!row) {
        pending.reject(new Error("rs_append_batch returned no outcome for an append"));
        return;
      }
      pending.resolve({
        status: row.status,
        revision: Number(row.revision),
        position: row.position,
      });
    });
  }
}

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? "";
  return !/^[0-9A-Z]{5}$/.test(code) || code.startsWith("08") || code.startsWith("57");
}
