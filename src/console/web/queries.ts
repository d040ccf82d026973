/** The console's GraphQL documents: only the public API. */

export const STEP_FIELDS = `id name index status attempt progress message output outputTruncated
  alternatives selectedIndex error startedAt completedAt`;

export const RUN_FIELDS = `id pipeline status phase revision input error createdAt updatedAt completedAt stale
  steps { ${STEP_FIELDS} }
  allowedCommands { command stepId }`;

export const CALLER = "query Caller { caller { tokenName workspaceId role mayCommand } }";

export const PIPELINES = "query Pipelines { pipelines { name description } }";

export const RUNS = `query Runs($status: RunStatus, $first: Int) {
  runs(status: $status, first: $first) {
    eventsCursor
    edges { node { id pipeline status phase revision updatedAt stale allowedCommands { command stepId } } }
  }
}`;

export const RUN_ROW = `query RunRow($id: ID!) {
  run(id: $id) { id pipeline status phase revision updatedAt stale allowedCommands { command stepId } }
}`;

export const RUN = `query Run($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`;

export const RUN_AT = `query RunAt($id: ID!, $at: Int!) { run(id: $id, atRevision: $at) { ${RUN_FIELDS} } }`;

export const PROJECTIONS = "query Projections { projectionStatus { name lag } }";

export const EVENTS = `subscription Events($after: String) {
  events(after: $after) { runId revision type }
}`;

export const RUN_UPDATED = `subscription RunUpdated($runId: ID!) { runUpdated(runId: $runId) { ${RUN_FIELDS} } }`;

export const RUN_EVENTS = `subscription RunEvents($runId: ID!, $after: Int) {
  runEvents(runId: $runId, after: $after) { revision type data occurredAt }
}`;

export const START_RUN = `mutation StartRun($pipeline: String!, $input: JSON) {
  startRun(pipeline: $pipeline, input: $input) { id }
}`;

const runCommand = (name: string, args: string, params: string) =>
  `mutation ${name}(${args}) { ${name}(${params}) { ${RUN_FIELDS} } }`;

export const COMMANDS = {
  selectAlternative: runCommand(
    "selectAlternative",
    "$runId: ID!, $stepId: ID!, $index: Int!, $expectedRevision: Int",
    "runId: $runId, stepId: $stepId, index: $index, expectedRevision: $expectedRevision",
  ),
  retryStep: runCommand(
    "retryStep",
    "$runId: ID!, $stepId: ID!, $expectedRevision: Int",
    "runId: $runId, stepId: $stepId, expectedRevision: $expectedRevision",
  ),
  resumeFromStep: runCommand(
    "resumeFromStep",
    "$runId: ID!, $stepId: ID!, $expectedRevision: Int",
    "runId: $runId, stepId: $stepId, expectedRevision: $expectedRevision",
  ),
  cancelRun: runCommand(
    "cancelRun",
    "$runId: ID!, $expectedRevision: Int",
    "runId: $runId, expectedRevision: $expectedRevision",
  ),
  rerunRun: runCommand(
    "rerunRun",
    "$runId: ID!, $expectedRevision: Int",
    "runId: $runId, expectedRevision: $expectedRevision",
  ),
  failStaleRun: runCommand("failStaleRun", "$runId: ID!", "runId: $runId"),
} as const;
