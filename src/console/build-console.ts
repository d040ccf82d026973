import { copyFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { CONSOLE_DIST } from "./console-dist.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.join(here, "web");

/** Files of the console besides the bundle, copied as they are. */
const STATIC_FILES = ["index.html", "console.css"];

/**
 * Bundles the browser code (src/console/web, which imports src/client) into one ES module with
 * esbuild, the bundler tsx already brings: no CDN, no framework, nothing fetched at run time.
 */
export async function buildConsole(outDir = CONSOLE_DIST): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(WEB, "main.ts")],
    outfile: path.join(outDir, "app.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
    tsconfig: path.join(WEB, "tsconfig.json"),
  });
  await Promise.all(STATIC_FILES.map((file) => copyFile(path.join(WEB, file), path.join(outDir, file))));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildConsole();
  console.log(`console built into ${path.relative(process.cwd(), CONSOLE_DIST)}`);
}
