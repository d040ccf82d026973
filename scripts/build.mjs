// Compiles src/**/*.ts (our code only; packages stay in node_modules) file by file into .build/, the
// same layout as src/, so `npm start` runs plain JavaScript instead of transpiling ~200 files through
// tsx's loader at every start. File by file and not one bundle: step threads load
// `worker/step-thread.js` and pipeline modules by their own URLs, which a bundle would not have.
// Takes well under a second; run by `npm install` (prepare) and by `npm start`, `npm run
// serve|worker|admin` before they start, which then find it up to date and skip it (a stat per file).
import { mkdir, readdir, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = path.join(root, "src");
// The console's browser code is bundled for the browser by `npm run build:console`, not run by Node.
const BROWSER_ONLY = path.join(src, "console", "web");

async function sources(dir) {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return full === BROWSER_ONLY ? [] : sources(full);
      return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [full] : [];
    }),
  );
  return nested.flat();
}

// Up to date when the stamp written after the last build is newer than every source and this script.
const STAMP = path.join(root, ".build", ".built");
const files = await sources(src);
const mtimeOf = async (file) => (await stat(file).catch(() => null))?.mtimeMs ?? Number.POSITIVE_INFINITY;
const stampedAt = (await stat(STAMP).catch(() => null))?.mtimeMs ?? 0;
const newest = Math.max(...(await Promise.all([...files, fileURLToPath(import.meta.url)].map(mtimeOf))));
if (newest < stampedAt) process.exit(0);

const { build } = await import("esbuild");

const result = await build({
  absWorkingDir: root,
  entryPoints: files,
  outbase: "src",
  outdir: ".build",
  bundle: false,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  write: false,
  logLevel: "warning",
});
try {
  // Written file by file through a rename: another start may be running the previous build right now.
  await Promise.all(
    result.outputFiles.map(async (file) => {
      await mkdir(path.dirname(file.path), { recursive: true });
      const temporary = `${file.path}.${process.pid}`;
      await writeFile(temporary, file.contents);
      await rename(temporary, file.path);
    }),
  );
  await writeFile(STAMP, `${new Date().toISOString()}\n`);
} catch (error) {
  // A read-only install (the Docker image runs as `node` over root's files) uses the build made at install.
  if (error.code !== "EACCES" && error.code !== "EROFS") throw error;
  console.error(`.build/ is not writable (${error.code}): using the build made at install`);
  process.exit(0);
}
