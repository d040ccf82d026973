import { type GraphQLSchema, lexicographicSortSchema, printSchema } from "graphql";
import { builder } from "./builder.js";
// Each feature registers its GraphQL types into the builder; importing them here is the whole wiring.
import "./scalars.js";
import "../runs/run.schema.js";
import "../runs/runs-connection.schema.js";
import "../runs/run-event.schema.js";
import "../runs/run-mutations.schema.js";
import "../runs/allowed-commands.schema.js";
import "../auth/caller.schema.js";
import "../pipelines/pipeline.schema.js";
import "../projections/projection.schema.js";
import "../streaming/subscriptions.schema.js";

let schema: GraphQLSchema | undefined;

/** Built once per process: the types are registered at import time and never change. */
export function getSchema(): GraphQLSchema {
  schema ??= builder.toSchema();
  return schema;
}

/** The schema as SDL in a stable order: what `npm run schema` writes to schema.graphql. */
export const printSortedSchema = (): string => `${printSchema(lexicographicSortSchema(getSchema()))}\n`;
