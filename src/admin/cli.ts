/**
 * `npm run admin -- projections list`, `npm run admin -- projections rebuild [name...]` and
 * `npm run admin -- tokens create|list|revoke`. Opens the
 * database like the application does (DATABASE_URL, or the embedded server in DATA_DIR).
 */
import { Command } from "commander";
import { ConfigError, loadConfig } from "../config/config.js";
import { createLogger } from "../config/logger.js";
import { UnknownProjectionError } from "../projections/registry.js";
import { InvalidInputError } from "../shared/errors.js";
import { listProjectionsCommand, rebuildProjectionsCommand } from "./projections-commands.js";
import {
  createTokenCommand,
  ensureTokenCommand,
  listTokensCommand,
  revokeTokenCommand,
} from "./tokens-commands.js";

function config() {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
}

async function main(action: (logger: ReturnType<typeof createLogger>) => Promise<void>): Promise<void> {
  // Logs go to stderr at warn and above, so they do not tear the progress bar.
  const logger = createLogger(process.env.LOG_LEVEL ?? "warn", "admin");
  try {
    await action(logger);
  } catch (error) {
    if (error instanceof UnknownProjectionError || error instanceof InvalidInputError) {
      console.error(error.message);
      process.exit(2);
    }
    console.error(`failed: ${(error as Error).message}`);
    process.exit(1);
  }
}

const program = new Command("admin").description("runstream operations");
const projections = program.command("projections").description("read models built from the events");

projections
  .command("list")
  .description("each projection with its version, checkpoint and whether it needs a rebuild")
  .option("--json", "print JSON")
  .action((options: { json?: boolean }) =>
    main((logger) => listProjectionsCommand(config(), logger, options)),
  );

projections
  .command("rebuild")
  .description("rebuild projections from the whole history (all when no name is given)")
  .argument("[names...]", "projection names")
  .option("--no-progress", "no progress bar")
  .action((names: string[], options: { progress: boolean }) =>
    main((logger) => rebuildProjectionsCommand(config(), logger, names, options)),
  );

const tokens = program.command("tokens").description("API tokens (bearer tokens of the GraphQL API)");

tokens
  .command("create")
  .description("create a token and print its secret (shown only this once)")
  .requiredOption("--workspace <workspace>", "the one workspace the token sees and changes")
  .requiredOption(
    "--role <role>",
    "viewer, operator, admin (of the workspace) or system (process-wide: rebuilds)",
  )
  .requiredOption("--name <name>", "what the token is for")
  .action((options: { workspace: string; role: string; name: string }) =>
    main((logger) =>
      createTokenCommand(config(), logger, {
        workspaceId: options.workspace,
        role: options.role,
        name: options.name,
      }),
    ),
  );

tokens
  .command("ensure")
  .description("make sure a token with the secret in --secret-file exists (idempotent: the first-token step)")
  .requiredOption("--secret-file <path>", "file holding the secret (a Docker secret: /run/secrets/<name>)")
  .option("--workspace <workspace>", "the one workspace the token sees and changes", "default")
  .option("--role <role>", "viewer, operator or admin", "admin")
  .option("--name <name>", "what the token is for", "first admin (tokens ensure)")
  .action((options: { secretFile: string; workspace: string; role: string; name: string }) =>
    main((logger) =>
      ensureTokenCommand(
        config(),
        logger,
        { workspaceId: options.workspace, role: options.role, name: options.name },
        options.secretFile,
      ),
    ),
  );

tokens
  .command("list")
  .description("every token, revoked ones included (never their secrets)")
  .option("--json", "print JSON")
  .action((options: { json?: boolean }) => main((logger) => listTokensCommand(config(), logger, options)));

tokens
  .command("revoke")
  .description("revoke a token: its requests and open streams are refused from now on")
  .argument("<id>", "the token's id (see `tokens list`)")
  .action((id: string) => main((logger) => revokeTokenCommand(config(), logger, id)));

await program.parseAsync();
