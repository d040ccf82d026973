import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "../../src/db/unavailable.js";

describe("isDatabaseUnavailable", () => {
  it.each([
    [
      "a refused connection",
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
    ],
    ["pg's cut connection", new Error("Connection terminated unexpectedly")],
    ["pg's pool timeout", new Error("timeout exceeded when trying to connect")],
    ["a server shutting down", Object.assign(new Error("terminating connection"), { code: "57P01" })],
    ["a connection exception", Object.assign(new Error("x"), { code: "08006" })],
    ["Prisma's adapter", Object.assign(new Error("x"), { cause: { kind: "DatabaseNotReachable" } })],
    ["Prisma's engine", Object.assign(new Error("x"), { code: "P1001" })],
    ["a wrapped cause", new Error("outer", { cause: new Error("Connection terminated unexpectedly") })],
  ])("recognises %s", (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ["a bug", new TypeError("x is not a function")],
    ["a bad query", Object.assign(new Error("syntax error"), { code: "42601" })],
    ["a unique violation", Object.assign(new Error("duplicate"), { code: "23505" })],
  ])("does not take %s for an outage", (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
