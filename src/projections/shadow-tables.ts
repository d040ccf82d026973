import type { Projection } from "./projection.js";
import { ident, type SqlClient } from "./sql.js";

/**
 * A rebuild writes into copies of the projection's tables in a schema of its own, then swaps them in:
 * the catalogue gives every column, constraint and index of the live tables, so a migration that
 * adds an index needs no change here. Names stay the same because each schema has its own namespace.
 */
export const shadowSchema = (projection: Projection): string => `rs_rebuild_${projection.name}`;
export const retiredSchema = (projection: Projection): string => `rs_retired_${projection.name}`;

interface ConstraintRow {
  table: string;
  name: string;
  def: string;
  kind: string;
}

const LIVE = "public";

async function constraintsOf(sql: SqlClient, tables: readonly string[]): Promise<ConstraintRow[]> {
  return sql.$queryRawUnsafe<ConstraintRow[]>(
    `SELECT c.relname::text AS "table", k.conname::text AS name, pg_get_constraintdef(k.oid) AS def,
            k.contype::text AS kind
     FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname IN (SELECT jsonb_array_elements_text($2::jsonb))
       AND k.contype IN ('p', 'u', 'f')
     ORDER BY k.contype DESC, k.conname`,
    LIVE,
    JSON.stringify(tables),
  );
}

/** Empty copies of the tables with their primary and unique keys (what upserts need), nothing else. */
export async function createShadowTables(sql: SqlClient, projection: Projection): Promise<void> {
  const shadow = ident(shadowSchema(projection));
  await sql.$executeRawUnsafe(`DROP SCHEMA IF EXISTS ${shadow} CASCADE`);
  await sql.$executeRawUnsafe(`CREATE SCHEMA ${shadow}`);
  for (const table of projection.tables) {
    await sql.$executeRawUnsafe(
      `CREATE TABLE ${shadow}.${ident(table)} (LIKE ${LIVE}.${ident(table)}
         INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE)`,
    );
  }
  for (const key of await constraintsOf(sql, projection.tables)) {
    if (key.kind === "f") continue;
    await sql.$executeRawUnsafe(
      `ALTER TABLE ${shadow}.${ident(key.table)} ADD CONSTRAINT ${ident(key.name)} ${key.def}`,
    );
  }
}

/**
 * Secondary indexes and the foreign keys between the projection's own tables, added once the bulk of
 * the rows is in (cheaper than maintaining them row by row). Runs outside the swap, so the swap is short.
 */
export async function completeShadowTables(sql: SqlClient, projection: Projection): Promise<void> {
  const shadow = shadowSchema(projection);
  const constraints = await constraintsOf(sql, projection.tables);
  const keyNames = new Set(constraints.map((key) => key.name));
  const indexes = await sql.$queryRawUnsafe<{ table: string; name: string; def: string }[]>(
    `SELECT tablename::text AS "table", indexname::text AS name, indexdef AS def FROM pg_indexes
     WHERE schemaname = $1 AND tablename IN (SELECT jsonb_array_elements_text($2::jsonb))`,
    LIVE,
    JSON.stringify(projection.tables),
  );
  for (const index of indexes) {
    if (keyNames.has(index.name)) continue;
    const def = index.def.replace(
      / ON (ONLY )?public\.("?)([^" ]+)\2 /,
      (_match, only: string | undefined, _quote, table: string) =>
        ` ON ${only ?? ""}${ident(shadow)}.${ident(table)} `,
    );
    if (def === index.def) throw new Error(`cannot retarget index ${index.name}: ${index.def}`);
    await sql.$executeRawUnsafe(def);
  }
  // pg_get_constraintdef leaves tables of the search path unqualified, so with the shadow schema
  // first on the path the foreign keys point at the shadow tables.
  await sql.$executeRawUnsafe(`SET LOCAL search_path TO ${ident(shadow)}, ${LIVE}`);
  for (const key of constraints) {
    if (key.kind !== "f" || !projection.tables.some((table) => key.def.includes(`REFERENCES ${table}(`))) {
      continue;
    }
    await sql.$executeRawUnsafe(
      `ALTER TABLE ${ident(shadow)}.${ident(key.table)} ADD CONSTRAINT ${ident(key.name)} ${key.def}`,
    );
  }
}

interface ExternalKey {
  table: string;
  name: string;
  def: string;
}

/** Foreign keys of other tables (run_leases, say) that point at the projection's tables. */
async function externalKeys(sql: SqlClient, projection: Projection): Promise<ExternalKey[]> {
  return sql.$queryRawUnsafe<ExternalKey[]>(
    `SELECT c.relname::text AS "table", k.conname::text AS name, pg_get_constraintdef(k.oid) AS def
     FROM pg_constraint k
     JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
     WHERE k.contype = 'f' AND rn.nspname = $1 AND n.nspname = $1
       AND r.relname IN (SELECT jsonb_array_elements_text($2::jsonb))
       AND c.relname NOT IN (SELECT jsonb_array_elements_text($2::jsonb))`,
    LIVE,
    JSON.stringify(projection.tables),
  );
}

/**
 * Inside the swap transaction: the live tables move out, the shadow tables move in. Foreign keys of
 * other tables are re-pointed NOT VALID (no scan under the lock); `validateExternalKeys` checks them after.
 */
export async function swapShadowTables(sql: SqlClient, projection: Projection): Promise<ExternalKey[]> {
  const shadow = ident(shadowSchema(projection));
  const retired = ident(retiredSchema(projection));
  const external = await externalKeys(sql, projection);
  for (const key of external) {
    await sql.$executeRawUnsafe(`ALTER TABLE ${LIVE}.${ident(key.table)} DROP CONSTRAINT ${ident(key.name)}`);
  }
  await sql.$executeRawUnsafe(`DROP SCHEMA IF EXISTS ${retired} CASCADE`);
  await sql.$executeRawUnsafe(`CREATE SCHEMA ${retired}`);
  for (const table of [...projection.tables].reverse()) {
    await sql.$executeRawUnsafe(`ALTER TABLE ${LIVE}.${ident(table)} SET SCHEMA ${retired}`);
  }
  for (const table of projection.tables) {
    await sql.$executeRawUnsafe(`ALTER TABLE ${shadow}.${ident(table)} SET SCHEMA ${LIVE}`);
  }
  for (const key of external) {
    await sql.$executeRawUnsafe(
      `ALTER TABLE ${LIVE}.${ident(key.table)} ADD CONSTRAINT ${ident(key.name)} ${key.def} NOT VALID`,
    );
  }
  return external;
}

export async function validateExternalKeys(sql: SqlClient, keys: ExternalKey[]): Promise<void> {
  for (const key of keys) {
    await sql.$executeRawUnsafe(
      `ALTER TABLE ${LIVE}.${ident(key.table)} VALIDATE CONSTRAINT ${ident(key.name)}`,
    );
  }
}

export async function dropRebuildSchemas(sql: SqlClient, projection: Projection): Promise<void> {
  await sql.$executeRawUnsafe(`DROP SCHEMA IF EXISTS ${ident(retiredSchema(projection))} CASCADE`);
  await sql.$executeRawUnsafe(`DROP SCHEMA IF EXISTS ${ident(shadowSchema(projection))} CASCADE`);
}
