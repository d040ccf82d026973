import SchemaBuilder from "@pothos/core";
import PrismaPlugin from "@pothos/plugin-prisma";
import type PrismaTypes from "../generated/pothos-prisma-types.js";
import { getDatamodel } from "../generated/pothos-prisma-types.js";
import type { GraphQLContext } from "./context.js";

/**
 * The one schema builder. It holds no types: each feature registers its own beside its code
 * (src/runs/*.schema.ts, src/pipelines/pipeline.schema.ts, ...) and src/api/schema.ts imports them.
 */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  Scalars: {
    ID: { Input: string; Output: string };
    JSON: { Input: unknown; Output: unknown };
    DateTime: { Input: Date; Output: Date | string };
  };
}>({
  plugins: [PrismaPlugin],
  defaultFieldNullability: false,
  prisma: {
    // The client lives in the AppContext (one per process), not in this module-level builder.
    client: (context) => context.app.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    // A resolver that forgets to spread `query` would load steps one run at a time (N+1).
    onUnusedQuery: process.env.NODE_ENV === "production" ? null : "error",
  },
});

builder.queryType({});
builder.mutationType({});
