import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken, openStream, type TestToken } from "../auth/support.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { gqlOk } from "../support/graphql-client.js";

const TTL_MS = 1_500;
const MAX_PER_TOKEN = 3;
const START = `mutation { startRun(pipeline: "test", input: { repo: "secret-repo" }) { id } }`;
const RUN_EVENTS = `subscription($runId: ID!) { runEvents(runId: $runId) { revision type data } }`;

let app: TestApp;
let a: TestToken;
let b: TestToken;
let url: string;
let runOfA: string;

beforeAll(async () => {
  app = await startTestApp({
    env: {
      STREAM_RESERVATION_TTL_MS: String(TTL_MS),
      MAX_STREAM_RESERVATIONS_PER_TOKEN: String(MAX_PER_TOKEN),
    },
  });
  a = await newToken(app, "default", "operator");
  b = await newToken(app, "intruders", "admin");
  url = `${app.baseUrl}/graphql/stream`;
  runOfA = (await gqlOk<{ startRun: { id: string } }>(app.baseUrl, START)).startRun.id;
});
afterAll(async () => {
  await app?.close();
});

const reserve = async (token: TestToken) => {
  const response = await fetch(url, { method: "PUT", headers: token.headers });
  return { status: response.status, text: await response.text() };
};
const addOperation = (token: TestToken, streamToken: string, operationId: string) =>
  fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-graphql-event-stream-token": streamToken,
      ...token.headers,
    },
    body: JSON.stringify({ query: RUN_EVENTS, variables: { runId: runOfA }, extensions: { operationId } }),
  });
const connect = (token: TestToken, streamToken: string) =>
  openStream(`${url}?token=${streamToken}`, { headers: token.headers });

describe("single-connection stream reservations", () => {
  it("belong to the token that made them: another token can neither connect, add operations nor cancel", async () => {
    const reservation = (await reserve(a)).text;
    expect(reservation).toMatch(/^[0-9a-f-]{36}$/);
    // Token B knows the id: every request naming it is answered as for a stream that does not exist.
    const intruder = await connect(b, reservation);
    expect(intruder.status).toBe(404);
    intruder.close();
    expect((await addOperation(b, reservation, "stolen")).status).toBe(404);
    const cancel = await fetch(`${url}?operationId=op&token=${reservation}`, {
      method: "DELETE",
      headers: b.headers,
    });
    expect(cancel.status).toBe(404);
    // Its owner still uses it: the operation added by A arrives on A's connection, with the run's data.
    const stream = await connect(a, reservation);
    expect(stream.status).toBe(200);
    expect((await addOperation(a, reservation, "mine")).status).toBe(202);
    const message = await stream.next();
    expect(message?.data).toContain("secret-repo");
    // Connected, B still cannot add to it.
    expect((await addOperation(b, reservation, "late")).status).toBe(404);
    stream.close();
  });

  it("are capped per token", async () => {
    const fresh = await newToken(app, "default", "viewer");
    const made = [];
    for (let index = 0; index < MAX_PER_TOKEN; index++) made.push(await reserve(fresh));
    expect(made.map((answer) => answer.status)).toEqual(Array(MAX_PER_TOKEN).fill(201));
    const refused = await reserve(fresh);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.text).errors[0].extensions.code).toBe("TOO_MANY_SUBSCRIPTIONS");
    // Another token is not affected by this one's reservations.
    expect((await reserve(b)).status).toBe(201);
  });

  it("expire when not connected within STREAM_RESERVATION_TTL_MS, freeing their place", async () => {
    const fresh = await newToken(app, "default", "viewer");
    const reservations = [];
    for (let index = 0; index < MAX_PER_TOKEN; index++) reservations.push((await reserve(fresh)).text);
    // An operation added before connecting is ended with the reservation too.
    expect((await addOperation(fresh, reservations[0] as string, "queued")).status).toBe(202);
    expect((await reserve(fresh)).status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, TTL_MS + 500));
    const late = await connect(fresh, reservations[0] as string);
    expect(late.status).not.toBe(200);
    late.close();
    expect((await addOperation(fresh, reservations[1] as string, "late")).status).toBe(404);
    expect((await reserve(fresh)).status).toBe(201);
  });

  it("a connected stream does not expire", async () => {
    const reservation = (await reserve(a)).text;
    const stream = await connect(a, reservation);
    expect(stream.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, TTL_MS + 500));
    expect((await addOperation(a, reservation, "after-ttl")).status).toBe(202);
    expect((await stream.next())?.data).toContain("after-ttl");
    stream.close();
  });
});
