import { builder } from "../api/builder.js";
import { forbidden } from "../auth/auth-errors.js";
import { InvalidInputError } from "../runs/errors.js";
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
        throw forbidden("rebuilding projections is for admins");
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
