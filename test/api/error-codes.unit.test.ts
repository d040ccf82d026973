import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, isErrorCode, TERMINAL_ERROR_CODES } from "../../src/shared/error-codes.js";

/** The codes named (in backticks) in the first column of the "Error codes" table of docs/api-errors.md. */
async function documentedCodes(): Promise<string[]> {
  const doc = await readFile("docs/api-errors.md", "utf8");
  const section = doc.split(/^## /m).find((part) => part.startsWith("Error codes"));
  if (!section) throw new Error('docs/api-errors.md has no "## Error codes" section');
  const firstCells = section
    .split("\n")
    .filter((line) => line.startsWith("|") && !/^\|\s*-/.test(line))
    .map((line) => line.split("|")[1] ?? "");
  return firstCells.flatMap((cell) => [...cell.matchAll(/`([A-Z_]+)`/g)].map((match) => match[1] as string));
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === "generated" ? [] : sourceFiles(full);
      return entry.name.endsWith(".ts") ? [full] : [];
    }),
  );
  return nested.flat();
}

describe("public error codes", () => {
  it("the docs table lists exactly the codes of src/shared/error-codes.ts, each once", async () => {
    const documented = await documentedCodes();
    expect(documented.length).toBe(new Set(documented).size);
    expect([...documented].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('every `code: "..."` literal the server raises is one of those codes', async () => {
    const strays: string[] = [];
    // src/client adds notices of its own (CONNECTION_LOST), typed by its NoticeCode.
    const serverFiles = (await sourceFiles("src")).filter(
      (file) => !file.startsWith(path.join("src", "client")),
    );
    for (const file of serverFiles) {
      const text = await readFile(file, "utf8");
      for (const match of text.matchAll(/\bcode: "([A-Z_]+)"/g)) {
        if (!isErrorCode(match[1])) strays.push(`${file}: ${match[1]}`);
      }
    }
    expect(strays).toEqual([]);
  });

  it("terminal codes are public codes, and transient ones are not terminal", () => {
    for (const code of TERMINAL_ERROR_CODES) expect(isErrorCode(code)).toBe(true);
    for (const code of ["UNAVAILABLE", "SLOW_CONSUMER", "INTERNAL_SERVER_ERROR", "RATE_LIMITED"] as const) {
      expect(TERMINAL_ERROR_CODES.has(code)).toBe(false);
    }
    expect(isErrorCode("NOT_A_CODE")).toBe(false);
  });
});
