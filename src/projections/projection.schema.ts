import type { GraphQLError } from "graphql";
import { builder } from "../api/builder.js";
import { publicError } from "../api/errors.js";
import { forbidden } from "../auth/auth-errors.js";
import { roleAllows } from "../auth/roles.js";
import { InvalidInputError } from "../shared/errors.js";
import type { ProjectionStatus } from "./projection-engine.js";
import { type RebuildResult, rebuildProjections } from "./rebuild.js";
import { type RunningRebuild, rebuildLock } from "./rebuild-lock.js";
import { projectionsNamed, UnknownProjectionError } from "./registry.js";

const ProjectionRebuild = builder.objectRef<RebuildResult>("ProjectionRebuild").implement({
  fields: (t) => ({
    projections: t.exposeStringList("projections"),
    eventsReplayed: t.exposeInt("eventsReplayed"),
    durationMs: t.exposeInt("durationMs"),
  }),
});

const describe = (running: RunningRebuild) =>
  `${running.projection} (since ${running.startedAt.toISOString()}, ${running.replayed} of ${running.total} events replayed)`;

/** A second caller learns that the rebuild runs, and how far it got. */
const alreadyRunning = (busy: RunningRebuild[]): GraphQLError =>
  publicError(
    "CONFLICT",
    `A rebuild is already running: ${busy.map(describe).join("; ")}. Try again when it ends.`,
    {
      rebuilding: busy.map((running) => ({ ...running, startedAt: running.startedAt.toISOString() })),
    },
  );

builder.mutationField("rebuildProjections", (t) =>
  t.field({
    type: ProjectionRebuild,
    description:
      "system tokens only: rebuilds the named read-model projections (all when null) from the event store, for every workspace",
    args: { names: t.arg.stringList() },
    resolve: async (_root, args, ctx) => {
      // The authorization plugin checks this before execution; kept here so no path skips it.
      if (!roleAllows(ctx.caller.role, "system")) {
        throw forbidden("rebuilding projections needs a system token");
      }
      const names = args.names ?? null;
      let projections: string[];
      try {
        projections = projectionsNamed(names).map((projection) => projection.name);
      } catch (error) {
        if (error instanceof UnknownProjectionError) throw new InvalidInputError(error.message);
        throw error;
      }
      const claim = rebuildLock.claim(projections);
      if ("busy" in claim) throw alreadyRunning(claim.busy);
      const { store, prisma, logger } = ctx.app;
      ctx.logger.info({ names }, "rebuilding projections");
      try {
        return await rebuildProjections(
          { store, prisma, logger: logger.child({ component: "rebuild" }) },
          names,
          claim.progress,
        );
      } finally {
        claim.release();
      }
    },
  }),
);

const ProjectionStatusRef = builder.objectRef<ProjectionStatus>("ProjectionStatus").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    version: t.exposeInt("version"),
    position: t.exposeString("position", { nullable: true, description: "global position applied last" }),
    lag: t.exposeInt("lag", { description: "events stored after the checkpoint; 0 when caught up" }),
  }),
});

builder.queryField("projectionStatus", (t) =>
  t.field({
    type: [ProjectionStatusRef],
    description: "admin only: each read-model projection's checkpoint and lag behind the event store",
    resolve: (_root, _args, ctx) => {
      if (!ctx.caller.admin) {
        throw forbidden("projection status is for admins");
      }
      return ctx.app.projections.status();
    },
  }),
);
