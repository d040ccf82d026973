/** The whole Run as the contract has it, for tests that compare complete answers. */
export const RUN_FIELDS = `
  id pipeline status phase revision input error createdAt updatedAt completedAt
  steps { id name index status attempt progress message output alternatives selectedIndex error startedAt completedAt }
`;

export interface StepJson {
  id: string;
  name: string;
  index: number;
  status: string;
  attempt: number;
  progress: number | null;
  message: string | null;
  output: unknown;
  alternatives: unknown[] | null;
  selectedIndex: number | null;
  error: string | null;
  startedAt: string | null;
  completedAt: string | null;
}

export interface RunJson {
  id: string;
  pipeline: string;
  status: string;
  phase: string | null;
  revision: number;
  input: unknown;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  steps: StepJson[];
}

export const START_RUN = `mutation Start($pipeline: String!, $input: JSON, $key: String) {
  startRun(pipeline: $pipeline, input: $input, idempotencyKey: $key) { ${RUN_FIELDS} }
}`;
