// Bundles src/main.ts and src/admin/cli.ts (our code only; packages stay in node_modules) into
// .build/, so `npm start` runs plain JavaScript instead of transpiling ~150 files through tsx's
// loader at every start. Takes well under a second; run by `npm start`, `npm run worker` and
// `npm run admin` before they start.
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: "src/main.ts", admin: "src/admin/cli.ts" },
  outdir: ".build",
  bundle: true,
  packages: "external",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  write: false,
  logLevel: "warning",
});
try {
  await mkdir(path.join(root, ".build"), { recursive: true });
  // Written whole or not at all: another start may be running the previous bundle right now.
  await Promise.all(
    result.outputFiles.map(async (file) => {
      const temporary = `${file.path}.${process.pid}`;
      await writeFile(temporary, file.contents);
      await rename(temporary, file.path);
    }),
  );
} catch (error) {
  // A read-only install (the Docker image runs as `node` over root's files) uses the bundle it was built with.
  if (error.code !== "EACCES" && error.code !== "EROFS") throw error;
  console.error(`.build/ is not writable (${error.code}): using the bundle built at install`);
  process.exit(0);
}
