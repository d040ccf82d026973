import { GraphQLError } from "graphql";
import { builder } from "../api/builder.js";
import { InvalidInputError } from "../shared/errors.js";
import type { ProjectionStatus } from "./projection-engine.js";
import { type RebuildResult, rebuildProjections } from "./rebuild.js";
import { projectionsNamed, UnknownProjectionError } from "./registry.js";

const ProjectionRebuild = builder.objectRef<RebuildResult>("ProjectionRebuild").implement({
  fields: (t) => ({
    projections: t.exposeStringList("projections"),
    eventsReplayed: t.exposeInt("eventsReplayed"),
    durationMs: t.exposeInt("durationMs"),
  }),
});

builder.mutationField("rebuildProjections", (t) =>
  t.field({
    type: ProjectionRebuild,
    description: "admin only: rebuilds the named read-model projections (all when null) from the event store",
    args: { names: t.arg.stringList() },
    resolve: async (_root, args, ctx) => {
      if (!ctx.caller.admin) {
        throw new GraphQLError("rebuilding projections is for admins", { extensions: { code: "FORBIDDEN" } });
      }
      const names = args.names ?? null;
      try {
        projectionsNamed(names);
      } catch (error) {
        if (error instanceof UnknownProjectionError) throw new InvalidInputError(error.message);
        throw error;
      }
      const { store, prisma, logger } = ctx.app;
      ctx.logger.info({ names }, "rebuilding projections");
      return rebuildProjections({ store, prisma, logger: logger.child({ component: "rebuild" }) }, names);
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
        throw new GraphQLError("projection status is for admins", { extensions: { code: "FORBIDDEN" } });
      }
      return ctx.app.projections.status();
    },
  }),
);
