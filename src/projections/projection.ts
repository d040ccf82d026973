import type { StoredEvent } from "../event-store/event-store.js";
import type { SqlClient } from "./sql.js";

/**
 * A named, versioned read model. Bumping `version` (a change in how events map to rows) makes the
 * engine rebuild the projection at start. Its rows live in `tables`, which a rebuild recreates in a
 * shadow schema and swaps in.
 */
export interface Projection {
  name: string;
  version: number;
  /** Only events of streams whose name starts with this are applied. */
  streamPrefix: string;
  /** Tables owned by this projection, parents before children (foreign keys point backwards). */
  tables: readonly string[];
  /**
   * Applies `events` (in global order) to the projection's tables in `schema`, inside the caller's
   * transaction. `cache` may carry folded state between calls when the caller is the only writer.
   */
  apply(sql: SqlClient, schema: string, events: StoredEvent[], cache?: Map<string, unknown>): Promise<void>;
}
