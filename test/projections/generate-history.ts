import type { EventStore } from "../../src/event-store/event-store.js";
import type { RunCommand } from "../../src/runs/commands.js";
import { decide } from "../../src/runs/decide.js";
import { runStreamName } from "../../src/runs/events.js";
import { executeRunCommand } from "../../src/runs/execute.js";
import { evolve, initialState, isTerminal, nextStep, type RunState } from "../../src/runs/state.js";
import { newId } from "../../src/shared/ids.js";

/** Small seeded PRNG (mulberry32): the same seed gives the same history. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIPELINE_STEPS = [
  { id: "analyze", name: "Analyze" },
  { id: "propose", name: "Propose" },
  { id: "apply", name: "Apply" },
  { id: "verify", name: "Verify" },
];

let clock = Date.parse("2026-02-01T00:00:00.000Z");
const now = (): string => {
  clock += 7;
  return new Date(clock).toISOString();
};

/**
 * The next thing a client or worker plausibly does to a run, chosen at random among what the decider
 * accepts: alternatives, retries after failures, resumes, reruns, cancellations, takeovers. Null when
 * the run's story is over.
 */
export function nextCommand(runId: string, state: RunState, rnd: () => number): RunCommand | null {
  const at = now();
  if (!state.exists) {
    return {
      type: "StartRun",
      runId,
      now: at,
      workspaceId: rnd() < 0.5 ? "ws-a" : "ws-b",
      pipeline: rnd() < 0.5 ? "autofix" : "refactor",
      steps: PIPELINE_STEPS,
      input: { repo: `acme/${runId}`, n: Math.floor(rnd() * 100) },
      idempotencyKey: rnd() < 0.2 ? `key-${runId}` : null,
    };
  }
  const run = state;
  const maxAttempt = Math.max(...run.steps.map((step) => step.attempt));
  if (isTerminal(run)) {
    // A step failed for good (at attempt 3) may still be retried by a person once.
    if (maxAttempt >= (run.status === "FAILED" ? 4 : 3) || rnd() < 0.5) return null;
    const failed = run.steps.find((step) => step.status === "FAILED");
    const pick = rnd();
    // A cancelled run's steps are not retried (resumeFromStep is for that): only a FAILED run's.
    if (failed && run.status === "FAILED" && pick < 0.4)
      return { type: "RetryStep", runId, now: at, stepId: failed.id };
    if (pick < 0.7) {
      // Resuming past an unfinished step would leave the run with nothing a worker may start.
      const firstUnfinished = run.steps.findIndex((step) => step.status !== "COMPLETED");
      const last = firstUnfinished < 0 ? run.steps.length - 1 : firstUnfinished;
      const from = run.steps[Math.floor(rnd() * (last + 1))] ?? run.steps[0];
      return { type: "ResumeFromStep", runId, now: at, stepId: from?.id ?? "analyze" };
    }
    return { type: "RerunRun", runId, now: at };
  }
  if (rnd() < 0.01) return { type: "CancelRun", runId, now: at, reason: rnd() < 0.5 ? "user" : null };
  const waiting = run.steps.find((step) => step.status === "AWAITING_SELECTION");
  if (waiting) {
    const index = Math.floor(rnd() * (waiting.alternatives?.length ?? 1));
    return { type: "SelectAlternative", runId, now: at, stepId: waiting.id, index };
  }
  if (run.workerId === null || (run.takeovers < 3 && rnd() < 0.01)) {
    const workerId = `w${Math.floor(rnd() * 4)}`;
    return {
      type: "ClaimRun",
      runId,
      now: at,
      workerId,
      leaseMs: 15_000,
      currentLeaseExpired: true,
      maxTakeovers: 3,
    };
  }
  const workerId = run.workerId;
  const running = run.steps.find((step) => step.status === "RUNNING");
  if (!running) {
    const next = nextStep(run);
    if (!next) return { type: "CompleteRun", runId, now: at, workerId };
    if (next.status !== "PENDING") return null;
    return { type: "StartStep", runId, now: at, workerId, stepId: next.id };
  }
  const pick = rnd();
  const stepId = running.id;
  if ((running.progress ?? 0) < 0.5 && pick < 0.5) {
    return {
      type: "ReportProgress",
      runId,
      now: at,
      workerId,
      stepId,
      progress: 0.5,
      message: `half of ${stepId}`,
    };
  }
  if (stepId === "propose" && pick < 0.7) {
    const alternatives = [{ patch: `a-${running.attempt}` }, { patch: `b-${running.attempt}` }, null];
    return { type: "ProduceAlternatives", runId, now: at, workerId, stepId, alternatives };
  }
  if (pick < 0.82) {
    return {
      type: "FailStep",
      runId,
      now: at,
      workerId,
      stepId,
      error: "flaky",
      willRetry: running.attempt < 3,
    };
  }
  const output = { files: Math.floor(rnd() * 10), by: stepId, attempt: running.attempt };
  return {
    type: "CompleteStep",
    runId,
    now: at,
    workerId,
    stepId,
    output,
    truncated: pick > 0.98,
    message: null,
  };
}

/** Many runs advanced a command at a time, round robin, through the real command handler. */
export async function generateThroughHandler(store: EventStore, runs: number, seed: number): Promise<number> {
  const rnd = seeded(seed);
  const active = new Map<string, RunState>();
  for (let i = 0; i < runs; i++) active.set(`g${seed}-${i}`, initialState());
  let commands = 0;
  while (active.size > 0) {
    for (const [runId, state] of active) {
      const command = nextCommand(runId, state, rnd);
      if (!command) {
        active.delete(runId);
        continue;
      }
      const result = await executeRunCommand(store, command);
      active.set(runId, result.state);
      commands++;
    }
  }
  return commands;
}

/**
 * Fast history for benchmarks: runs are decided in memory by the real decider, then appended a few
 * events per call, waves of runs at once, so their events interleave in the global order.
 */
export async function generateFast(
  store: EventStore,
  options: { events: number; seed: number; wave?: number; chunk?: number },
): Promise<number> {
  const rnd = seeded(options.seed);
  const wave = options.wave ?? 200;
  const chunk = options.chunk ?? 4;
  let total = 0;
  let runIndex = 0;
  while (total < options.events) {
    const histories: { stream: string; events: { type: string; data: object }[] }[] = [];
    for (let i = 0; i < wave && total < options.events; i++) {
      const runId = `b${options.seed}-${runIndex++}`;
      let state = initialState();
      const events: { type: string; data: object }[] = [];
      for (let command = nextCommand(runId, state, rnd); command; command = nextCommand(runId, state, rnd)) {
        for (const event of decide(command, state)) {
          state = evolve(state, event);
          events.push(event);
        }
      }
      histories.push({ stream: runStreamName(runId), events });
      total += events.length;
    }
    const rounds = Math.max(...histories.map((history) => Math.ceil(history.events.length / chunk)));
    for (let round = 0; round < rounds; round++) {
      await Promise.all(
        histories.map(async ({ stream, events }) => {
          const part = events.slice(round * chunk, (round + 1) * chunk);
          if (part.length === 0) return;
          await store.appendToStream(
            stream,
            part.map((event) => ({
              id: newId(),
              type: event.type,
              data: event.data as never,
              occurredAt: new Date(clock),
            })),
          );
        }),
      );
    }
  }
  return total;
}
