import { builder } from "../api/builder.js";
import { RunStatus, StepStatus } from "../generated/prisma/enums.js";
import { runAtRevision } from "./run-at-revision.js";

/** GraphQL types of the run read models (tables runs and steps, written by the projections). */

export const RunStatusEnum = builder.enumType(RunStatus, { name: "RunStatus" });
export const StepStatusEnum = builder.enumType(StepStatus, { name: "StepStatus" });

export const RunRef = builder.prismaObject("Run", {
  fields: (t) => ({
    id: t.exposeID("id"),
    pipeline: t.exposeString("pipeline"),
    status: t.expose("status", { type: RunStatusEnum }),
    phase: t.exposeString("phase", {
      nullable: true,
      description: "name of the step now running or waiting (the run's phase), null when none",
    }),
    revision: t.exposeInt("revision", {
      description: "revision of the run's event stream: the number of its last event, starting at 0",
    }),
    input: t.expose("input", { type: "JSON", nullable: true }),
    // Ordered in the same query as the run (one query for all runs of a page: no N+1).
    steps: t.relation("steps", { query: { orderBy: { index: "asc" } } }),
    error: t.exposeString("error", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    completedAt: t.expose("completedAt", { type: "DateTime", nullable: true }),
  }),
});

export const StepRef = builder.prismaObject("Step", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    index: t.exposeInt("index"),
    status: t.expose("status", { type: StepStatusEnum }),
    attempt: t.exposeInt("attempt", {
      description: "1 for the first execution, +1 for each retry, resume or rerun that re-executes it",
    }),
    progress: t.exposeFloat("progress", { nullable: true }),
    message: t.exposeString("message", { nullable: true }),
    output: t.expose("output", { type: "JSON", nullable: true }),
    outputTruncated: t.exposeBoolean("outputTruncated", {
      description: "the output was cut to the configured size limit",
    }),
    alternatives: t.field({
      type: ["JSON"],
      nullable: true,
      resolve: (step) => (Array.isArray(step.alternatives) ? step.alternatives : null),
    }),
    selectedIndex: t.exposeInt("selectedIndex", { nullable: true }),
    error: t.exposeString("error", { nullable: true }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    completedAt: t.expose("completedAt", { type: "DateTime", nullable: true }),
  }),
});

builder.queryField("run", (t) =>
  t.prismaField({
    type: "Run",
    nullable: true,
    args: {
      id: t.arg.id({ required: true }),
      atRevision: t.arg.int({
        description:
          "time travel: the run as it was right after this revision of its stream, folded from its events (NOT_FOUND for a run the caller cannot see)",
      }),
    },
    resolve: async (query, _root, args, ctx) => {
      if (args.atRevision != null) {
        // The folded run holds every field and step the selection can ask for: reading the query
        // tells Pothos' unused-query check it is satisfied.
        void { ...query };
        const past = await runAtRevision(ctx.app.store, args.id, args.atRevision, ctx.workspaceId);
        // A read-model record with its steps loaded, which the selection's relations read as loaded.
        return past;
      }
      return ctx.app.prisma.run.findFirst({
        ...query,
        where: { id: String(args.id), workspaceId: ctx.workspaceId },
      });
    },
  }),
);
