import path from "node:path";
import type { GraphiQLOptions } from "graphql-yoga";

/** Shown in GraphiQL's headers editor until the user pastes a real token; never a secret. */
export const TOKEN_PLACEHOLDER = "Bearer <paste your API token here>";

const firstQuery = (
  tokenFile: string,
) => `# Put your API token in Headers below (the first start printed it and saved it in ${tokenFile})
query Runs {
  runs(first: 5) {
    edges { node { id pipeline status } }
  }
}
`;

/**
 * GraphiQL's first screen: the headers tab open with the placeholder, and a one-line hint naming
 * the token's file as configured (GraphiQL is off in production, where no such file is made).
 */
export const graphiqlOptions = (dataDir: string): GraphiQLOptions => ({
  title: "runstream",
  headers: JSON.stringify({ Authorization: TOKEN_PLACEHOLDER }, null, 2),
  defaultQuery: firstQuery(path.join(dataDir, "admin-token")),
  defaultEditorToolsVisibility: "headers",
});

let page: Promise<string> | undefined;

/**
 * GraphiQL with its scripts and styles inlined from @graphql-yoga/render-graphiql (no CDN, so it
 * works offline). The package is ~9 MB: imported on the first GraphiQL request, not at start, and
 * the page is rendered once.
 */
export function renderGraphiQL(options: GraphiQLOptions): Promise<string> {
  page ??= import("@graphql-yoga/render-graphiql").then((module) => module.renderGraphiQL(options));
  return page;
}
