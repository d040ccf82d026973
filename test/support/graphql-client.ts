export interface GraphQLErrorJson {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; correlationId?: string; [key: string]: unknown };
}

export interface GraphQLResponse<Data> {
  status: number;
  headers: Headers;
  data: Data | null;
  errors?: GraphQLErrorJson[];
}

/** Headers every request to a server gets unless the call overrides them (its API token). */
const defaultHeaders = new Map<string, Record<string, string>>();

export function setDefaultHeaders(baseUrl: string, headers: Record<string, string>): void {
  defaultHeaders.set(baseUrl, headers);
}

/** One GraphQL request over real HTTP (POST /graphql, JSON), with the server's default headers. */
export async function gql<Data = Record<string, unknown>>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<Data>> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json",
      ...defaultHeaders.get(baseUrl),
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Data | null; errors?: GraphQLErrorJson[] };
  return { status: response.status, headers: response.headers, data: body.data ?? null, errors: body.errors };
}

/** The data of a request that must succeed; fails the test with the errors otherwise. */
export async function gqlOk<Data = Record<string, unknown>>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Data> {
  const result = await gql<Data>(baseUrl, query, variables);
  if (result.errors?.length || !result.data) {
    throw new Error(`GraphQL request failed: ${JSON.stringify(result.errors ?? result)}`);
  }
  return result.data;
}

/** The `extensions.code` of the first error of a request that must fail. */
export async function gqlErrorCode(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<string | undefined> {
  const result = await gql(baseUrl, query, variables);
  if (!result.errors?.length) throw new Error(`expected an error, got ${JSON.stringify(result.data)}`);
  return result.errors[0]?.extensions?.code;
}
