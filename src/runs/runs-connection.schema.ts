import { queryFromInfo } from "@pothos/plugin-prisma";
import { type GraphQLResolveInfo, Kind, type SelectionSetNode } from "graphql";
import { builder } from "../api/builder.js";
import type { Prisma, Run } from "../generated/prisma/client.js";
import { runsProjection } from "../projections/runs/runs-projection.js";
import { InvalidInputError } from "../shared/errors.js";
import { RunRef, RunStatusEnum } from "./run.schema.js";
import { decodeRunCursor, encodeRunCursor } from "./run-cursor.js";

/** Relay-style page of runs, newest first. */

export const RUNS_DEFAULT_PAGE = 20;
export const RUNS_MAX_PAGE = 100;

interface RunEdgeShape {
  cursor: string;
  node: Run;
}
interface PageInfoShape {
  hasNextPage: boolean;
  endCursor: string | null;
}

const PageInfo = builder.objectRef<PageInfoShape>("PageInfo").implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean("hasNextPage"),
    endCursor: t.exposeString("endCursor", { nullable: true }),
  }),
});

const RunEdge = builder.objectRef<RunEdgeShape>("RunEdge").implement({
  fields: (t) => ({
    cursor: t.exposeString("cursor"),
    node: t.field({ type: RunRef, resolve: (edge) => edge.node }),
  }),
});

const RunConnection = builder
  .objectRef<{ edges: RunEdgeShape[]; pageInfo: PageInfoShape; eventsCursor: string | null }>("RunConnection")
  .implement({
    fields: (t) => ({
      edges: t.field({ type: [RunEdge], resolve: (connection) => connection.edges }),
      pageInfo: t.field({ type: PageInfo, resolve: (connection) => connection.pageInfo }),
      eventsCursor: t.exposeString("eventsCursor", {
        nullable: true,
        description:
          "`after` for the `events` subscription that keeps this page live: every event the page may not reflect comes after it (some it does may too)",
      }),
    }),
  });

/** Whether the field being resolved selects `name` directly (through fragments too). */
function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode | undefined): boolean =>
    (set?.selections ?? []).some((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === name;
      if (selection.kind === Kind.INLINE_FRAGMENT) return walk(selection.selectionSet);
      if (seen.has(selection.name.value)) return false;
      seen.add(selection.name.value);
      return walk(info.fragments[selection.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((node) => walk(node.selectionSet));
}

builder.queryField("runs", (t) =>
  t.field({
    type: RunConnection,
    args: {
      first: t.arg.int({
        description: `page size, ${RUNS_DEFAULT_PAGE} when null, at most ${RUNS_MAX_PAGE}`,
      }),
      after: t.arg.string({ description: "endCursor of the previous page" }),
      status: t.arg({ type: RunStatusEnum }),
      pipeline: t.arg.string(),
    },
    resolve: async (_root, args, ctx, info) => {
      const first = args.first ?? RUNS_DEFAULT_PAGE;
      if (!Number.isInteger(first) || first < 0 || first > RUNS_MAX_PAGE) {
        throw new InvalidInputError(`first must be between 0 and ${RUNS_MAX_PAGE}, got ${first}`);
      }
      const after = args.after != null ? decodeRunCursor(args.after) : null;
      const where: Prisma.RunWhereInput = {
        workspaceId: ctx.workspaceId,
        ...(args.status ? { status: args.status } : {}),
        ...(args.pipeline != null ? { pipeline: args.pipeline } : {}),
        ...(after
          ? {
              OR: [
                { createdAt: { lt: after.createdAt } },
                { createdAt: after.createdAt, id: { lt: after.id } },
              ],
            }
          : {}),
      };
      // Read before the page: every event the page lacks is after the runs projection's checkpoint.
      // Only when asked for, so a plain page stays one query for the runs and one for their steps.
      const checkpoint = selectsField(info, "eventsCursor")
        ? await ctx.app.prisma.projectionCheckpoint.findUnique({
            where: { name: runsProjection.name },
            select: { position: true },
          })
        : null;
      // The nodes' selection (steps included) is planned into this one query.
      const query = queryFromInfo({ context: ctx, info, path: ["edges", "node"] });
      const rows = await ctx.app.prisma.run.findMany({
        ...query,
        where,
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: first + 1,
      });
      const page = rows.slice(0, first);
      const edges = page.map((node) => ({ cursor: encodeRunCursor(node), node }));
      return {
        edges,
        pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
        eventsCursor: checkpoint?.position || null,
      };
    },
  }),
);
