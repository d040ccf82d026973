import { describe, expect, it } from "vitest";
import { jsonProblem, MAX_INPUT_DEPTH, textProblem } from "../../src/api/input-safety.js";
import { decodePosition } from "../../src/event-store/postgres/position.js";

const nested = (levels: number): unknown => {
  let value: unknown = 1;
  for (let level = 0; level < levels; level++) value = { a: value };
  return value;
};

describe("input safety", () => {
  it("accepts ordinary text, emoji (surrogate pairs) included", () => {
    expect(textProblem("plain")).toBeNull();
    expect(textProblem("a 😀 b")).toBeNull();
  });

  it("refuses NUL characters and lone surrogates", () => {
    expect(textProblem("a\u0000b")).toMatch(/NUL/);
    expect(textProblem("a\ud800b")).toMatch(/surrogate/);
    expect(textProblem("\udc00")).toMatch(/surrogate/);
  });

  it("walks 100,000 levels of JSON without overflowing the stack", () => {
    expect(jsonProblem(nested(100_000))).toMatch(`nested deeper than ${MAX_INPUT_DEPTH} levels`);
    expect(jsonProblem(nested(MAX_INPUT_DEPTH))).toBeNull();
  });

  it("finds bad text in keys and nested strings", () => {
    expect(jsonProblem({ files: [{ path: "a\u0000.js" }] })).toMatch(/NUL/);
    expect(jsonProblem({ "k\ud800": 1 })).toMatch(/key/);
    expect(jsonProblem({ files: [{ path: "a.js", content: "ok" }] })).toBeNull();
  });

  it("positions at or above 2^63 are no positions (the store's own parser)", () => {
    expect(() => decodePosition("8000000000000000-0000000000000000")).toThrow(/out of range/);
    expect(() => decodePosition("0000000000000001-ffffffffffffffff")).toThrow(/out of range/);
    const legacy = decodePosition("7fffffffffffffff-7fffffffffffffff");
    expect(legacy.kind === "legacy" && legacy.legacy.seq).toBe(2n ** 63n - 1n);
    // The sequencer's positions (one number) have the same bound.
    expect(() => decodePosition("8000000000000000")).toThrow(/out of range/);
    expect(decodePosition("7fffffffffffffff")).toEqual({ kind: "position", value: 2n ** 63n - 1n });
  });
});
