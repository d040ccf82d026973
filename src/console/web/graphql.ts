import {
  type ConnectionStatus,
  type ResumingSubscription,
  subscribeWithResume,
} from "../../client/resuming-subscription.js";
import { session } from "./session.js";

const ENDPOINT = "/graphql";

/** A GraphQL error answer, with its contract code (NOT_FOUND, CONFLICT, INVALID_STATE, ...). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const authorization = (): Record<string, string> => {
  const token = session.token();
  return token ? { authorization: `Bearer ${token}` } : {};
};

/** One query or mutation over HTTP POST, on the same origin, with the session's token. */
export async function request<Data>(query: string, variables: Record<string, unknown> = {}): Promise<Data> {
  const response = await fetch(ENDPOINT, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...authorization() },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json().catch(() => null)) as {
    data?: Data;
    errors?: { message: string; extensions?: { code?: string } }[];
  } | null;
  const error = body?.errors?.[0];
  if (error) throw new ApiError(error.message, error.extensions?.code ?? "UNKNOWN");
  if (!response.ok || !body?.data) throw new ApiError(`HTTP ${response.status}`, "UNKNOWN");
  return body.data;
}

export interface LiveOptions<Data> {
  query: string;
  variables?: Record<string, unknown>;
  cursor?: { variable: string; type: "int" | "string" };
  onData(data: Data): void;
  onStatus(status: ConnectionStatus): void;
  onError?(error: ApiError): void;
}

/** A subscription through src/client's resuming client: it resumes from its cursor after any drop. */
export function live<Data>(options: LiveOptions<Data>): ResumingSubscription {
  return subscribeWithResume<Data>({
    url: ENDPOINT,
    query: options.query,
    ...(options.variables ? { variables: options.variables } : {}),
    ...(options.cursor ? { cursor: options.cursor } : {}),
    headers: authorization(),
    retry: { initialMs: 250, maxMs: 5_000 },
    onData: (data) => options.onData(data),
    onStatus: options.onStatus,
    onError: (error) => options.onError?.(new ApiError(error.message, error.extensions?.code ?? "UNKNOWN")),
  });
}
