import path from "node:path";
import { PACKAGE_ROOT } from "../shared/package-root.js";

/**
 * Where `npm install` (the `prepare` script, build-console.ts) puts the console and the server serves
 * it from. Its own module, so the server does not load esbuild to learn a path.
 */
export const CONSOLE_DIST = path.join(PACKAGE_ROOT, "dist", "console");
