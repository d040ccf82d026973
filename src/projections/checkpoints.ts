import type { EventStore } from "../event-store/event-store.js";
import type { SqlClient } from "./sql.js";

/** Position of a projection that has applied nothing yet: sorts before every real position. */
export const START = "";

export interface Checkpoint {
  name: string;
  version: number;
  position: string;
}

export async function readCheckpoint(sql: SqlClient, name: string): Promise<Checkpoint | null> {
  const rows = await sql.$queryRawUnsafe<Checkpoint[]>(
    "SELECT name, version, position FROM projection_checkpoints WHERE name = $1",
    name,
  );
  return rows[0] ?? null;
}

export async function readCheckpoints(sql: SqlClient): Promise<Checkpoint[]> {
  return sql.$queryRawUnsafe<Checkpoint[]>(
    "SELECT name, version, position FROM projection_checkpoints ORDER BY name",
  );
}

/**
 * Locks the projection's checkpoint row until the transaction ends, then reads it: whoever holds the
 * lock is the only one applying events to that projection, so two processes never apply one twice.
 */
export async function lockCheckpoint(sql: SqlClient, name: string): Promise<Checkpoint | null> {
  const rows = await sql.$queryRawUnsafe<Checkpoint[]>(
    "SELECT name, version, position FROM projection_checkpoints WHERE name = $1 FOR UPDATE",
    name,
  );
  return rows[0] ?? null;
}

/** Creates the row of a projection seen for the first time (no-op when another process did). */
export async function ensureCheckpoint(sql: SqlClient, name: string, version: number): Promise<void> {
  await sql.$executeRawUnsafe(
    `INSERT INTO projection_checkpoints (name, version, position, updated_at)
     VALUES ($1, $2, $3, now()) ON CONFLICT (name) DO NOTHING`,
    name,
    version,
    START,
  );
}

export async function saveCheckpoint(sql: SqlClient, checkpoint: Checkpoint): Promise<void> {
  await sql.$executeRawUnsafe(
    "UPDATE projection_checkpoints SET version = $2, position = $3, updated_at = now() WHERE name = $1",
    checkpoint.name,
    checkpoint.version,
    checkpoint.position,
  );
}

/**
 * Rewrites a checkpoint saved in an earlier form of the store's positions (before the PostgreSQL
 * sequencer, say) in its current form, once: positions compare as strings, so both forms must never
 * meet. Compare-and-set, so a process that already did it (or moved the checkpoint on) wins.
 */
export async function normalizeCheckpoint(sql: SqlClient, store: EventStore, name: string): Promise<void> {
  const checkpoint = await readCheckpoint(sql, name);
  if (!checkpoint || checkpoint.position === START) return;
  const position = await store.normalizePosition(checkpoint.position);
  if (position === checkpoint.position) return;
  await sql.$executeRawUnsafe(
    "UPDATE projection_checkpoints SET position = $3, updated_at = now() WHERE name = $1 AND position = $2",
    name,
    checkpoint.position,
    position,
  );
}
