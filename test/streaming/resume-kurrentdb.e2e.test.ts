import { test } from "vitest";
import { kurrentDbTarget, targetLabel, useKurrentDb } from "../support/kurrentdb.js";
import { describeResumeSuite } from "./resume-suite.js";

/** The resume suite with the app's events in KurrentDB (see test/support/kurrentdb.ts for where). */
const target = await kurrentDbTarget();

if (target.kind === "none") {
  test("KurrentDB resume suite", (context) => context.skip(target.reason));
} else {
  const url = useKurrentDb(target);
  describeResumeSuite(`KurrentDB event store, ${targetLabel(target)}`, () => ({ EVENTSTORE_URL: url() }));
}
