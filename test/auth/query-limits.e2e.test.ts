import { getIntrospectionQuery } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { gql } from "../support/graphql-client.js";

/** The limits at their defaults (GraphQL Armor): GraphiQL's own queries pass, abuse is BAD_USER_INPUT. */
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

const codes = (result: { errors?: { extensions?: Record<string, unknown> }[] }) =>
  (result.errors ?? []).map((error) => error.extensions?.code);

describe("query limits at their defaults", () => {
  it("GraphiQL's introspection query (the fullest variant) passes and returns the schema", async () => {
    const query = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
    });
    const result = await gql<{ __schema: { types: { name: string }[] } }>(app.baseUrl, query);
    expect(result.errors).toBeUndefined();
    expect(result.data?.__schema.types.map((type) => type.name)).toContain("Run");
  });

  it("refuses too deep, too many aliases, too costly and too long documents with BAD_USER_INPUT", async () => {
    const ofTypes = (n: number): string => (n === 0 ? "name" : `ofType { ${ofTypes(n - 1)} }`);
    // Introspection (__schema) stays out of depth: 14 levels under it pass.
    const introspection = `{ __schema { types { fields { type { ${ofTypes(10)} } } } } }`;
    expect((await gql(app.baseUrl, introspection)).errors).toBeUndefined();
    // Any other field counts: __type > fields > type > 11 x ofType > name is 15 levels, over 12.
    const tooDeep = `{ __type(name: "Run") { fields { type { ${ofTypes(11)} } } } }`;
    expect(codes(await gql(app.baseUrl, tooDeep))).toEqual(["BAD_USER_INPUT"]);

    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: pipelines { name }`).join(" ");
    expect(codes(await gql(app.baseUrl, `{ ${aliases} }`))).toContain("BAD_USER_INPUT");

    const costly = `{ runs(first: 1000) { edges { node { id steps { id status output } } } } }`;
    expect(codes(await gql(app.baseUrl, costly))).toEqual(["BAD_USER_INPUT"]);

    const long = `{ ${Array.from({ length: 2_100 }, () => "__typename").join(" ")} }`;
    const refused = await gql(app.baseUrl, long);
    expect(codes(refused)).toEqual(["BAD_USER_INPUT"]);
    expect(refused.errors?.[0]?.message).toMatch(/Token limit of 2000 exceeded/);
  });
});
