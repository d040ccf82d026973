import { builder } from "../api/builder.js";
import { InvalidInputError } from "../shared/errors.js";
import { deterministicUuid, newId } from "../shared/ids.js";
import { type Json, jsonByteLength } from "../shared/json.js";
import { holderHeartbeatExpiry } from "./lease.js";
import { loadRun } from "./run-access.js";
import { checkExpectedRevision, executeClientCommand } from "./run-commands.js";

/** Every mutation goes through the command handler and answers with the run after the command. */

const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

const EXPECTED_REVISION =
  "the run's revision the caller last saw: CONFLICT, and nothing done, when it moved on";

builder.mutationField("startRun", (t) =>
  t.prismaField({
    type: "Run",
    description:
      "starts a run; the same idempotencyKey with the same pipeline and input returns the run it started before and starts nothing; the same key with another pipeline or input is CONFLICT",
    args: {
      pipeline: t.arg.string({ required: true }),
      input: t.arg({ type: "JSON" }),
      idempotencyKey: t.arg.string(),
    },
    resolve: async (query, _root, args, ctx) => {
      const { config, pipelines } = ctx.app;
      const pipeline = pipelines.get(args.pipeline);
      if (!pipeline) throw new InvalidInputError(`unknown pipeline ${JSON.stringify(args.pipeline)}`);
      const input = (args.input ?? null) as Json;
      const size = jsonByteLength(input);
      if (size > config.MAX_INPUT_BYTES) {
        throw new InvalidInputError(
          `input is ${size} bytes of JSON, more than the ${config.MAX_INPUT_BYTES} allowed`,
        );
      }
      const problem = pipeline.validateInput(input);
      if (problem !== null) throw new InvalidInputError(`invalid input for ${pipeline.name}: ${problem}`);
      const key = args.idempotencyKey ?? null;
      if (key !== null && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
        throw new InvalidInputError(`idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
      }
      // The same key in the same workspace names the same run, so a repeated start finds the first.
      const runId = key === null ? newId() : deterministicUuid(`${ctx.workspaceId}/${key}`);
      await executeClientCommand(ctx, {
        type: "StartRun",
        runId,
        workspaceId: ctx.workspaceId,
        pipeline: pipeline.name,
        steps: pipeline.steps.map(({ id, name }) => ({ id, name })),
        input,
        idempotencyKey: key,
      });
      return loadRun(ctx, query, runId);
    },
  }),
);

/** The mutations that act on one step of a run share their arguments and their flow. */
function stepMutation(
  name: "retryStep" | "resumeFromStep",
  type: "RetryStep" | "ResumeFromStep",
  description: string,
) {
  builder.mutationField(name, (t) =>
    t.prismaField({
      type: "Run",
      description,
      args: {
        runId: t.arg.id({ required: true }),
        stepId: t.arg.id({ required: true }),
        expectedRevision: t.arg.int({ description: EXPECTED_REVISION }),
      },
      resolve: async (query, _root, args, ctx) => {
        const expected = checkExpectedRevision(args.expectedRevision);
        await executeClientCommand(ctx, { type, runId: args.runId, stepId: args.stepId }, expected);
        return loadRun(ctx, query, args.runId);
      },
    }),
  );
}

stepMutation(
  "retryStep",
  "RetryStep",
  "re-executes a step of an active or FAILED run from scratch, and every step after it (their inputs change): outputs, alternatives, selections, errors and times are cleared and the run is RUNNING again. On a COMPLETED or CANCELLED run it is INVALID_STATE: use resumeFromStep (from that step) or rerunRun (the whole run)",
);
stepMutation(
  "resumeFromStep",
  "ResumeFromStep",
  "re-executes the given step and every step after it, from scratch, on any run with no step running (COMPLETED, FAILED and CANCELLED runs included); the run is RUNNING again",
);

builder.mutationField("selectAlternative", (t) =>
  t.prismaField({
    type: "Run",
    args: {
      runId: t.arg.id({ required: true }),
      stepId: t.arg.id({ required: true }),
      index: t.arg.int({ required: true }),
      expectedRevision: t.arg.int({ description: EXPECTED_REVISION }),
    },
    resolve: async (query, _root, args, ctx) => {
      const expected = checkExpectedRevision(args.expectedRevision);
      if (args.index < 0) throw new InvalidInputError(`index must be 0 or more, got ${args.index}`);
      await executeClientCommand(
        ctx,
        { type: "SelectAlternative", runId: args.runId, stepId: args.stepId, index: args.index },
        expected,
      );
      return loadRun(ctx, query, args.runId);
    },
  }),
);

builder.mutationField("cancelRun", (t) =>
  t.prismaField({
    type: "Run",
    args: {
      runId: t.arg.id({ required: true }),
      expectedRevision: t.arg.int({ description: EXPECTED_REVISION }),
      reason: t.arg.string({ description: "why, kept as the run's error" }),
    },
    resolve: async (query, _root, args, ctx) => {
      const expected = checkExpectedRevision(args.expectedRevision);
      await executeClientCommand(
        ctx,
        { type: "CancelRun", runId: args.runId, reason: args.reason ?? null },
        expected,
      );
      return loadRun(ctx, query, args.runId);
    },
  }),
);

builder.mutationField("rerunRun", (t) =>
  t.prismaField({
    type: "Run",
    description: "re-executes a finished (completed, failed or cancelled) run from its first step",
    args: {
      runId: t.arg.id({ required: true }),
      expectedRevision: t.arg.int({ description: EXPECTED_REVISION }),
    },
    resolve: async (query, _root, args, ctx) => {
      const expected = checkExpectedRevision(args.expectedRevision);
      await executeClientCommand(ctx, { type: "RerunRun", runId: args.runId }, expected);
      return loadRun(ctx, query, args.runId);
    },
  }),
);

builder.mutationField("failStaleRun", (t) =>
  t.prismaField({
    type: "Run",
    description: "marks an active run whose worker stopped reporting as FAILED",
    args: {
      runId: t.arg.id({ required: true }),
      reason: t.arg.string(),
    },
    resolve: async (query, _root, args, ctx) => {
      const { prisma, config } = ctx.app;
      // Heartbeats extend the lease in run_leases, outside the stream: the decider needs them.
      const row = await prisma.run.findUnique({
        where: { id: args.runId },
        select: { workerId: true, leaseExpiresAt: true, lease: true },
      });
      await executeClientCommand(ctx, {
        type: "FailStaleRun",
        runId: args.runId,
        reason: args.reason ?? null,
        heartbeatExpiresAt: (row && holderHeartbeatExpiry(row)?.toISOString()) ?? null,
        staleAfterMs: config.STALE_AFTER_MS,
      });
      return loadRun(ctx, query, args.runId);
    },
  }),
);
