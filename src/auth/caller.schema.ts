import { builder } from "../api/builder.js";
import { DEFAULT_ROLES } from "./authorization.js";
import type { Caller } from "./caller.js";
import { roleAllows } from "./roles.js";

const CallerRef = builder.objectRef<Caller>("Caller").implement({
  description: "the API token of the request: what a client shows and offers depends on it",
  fields: (t) => ({
    tokenName: t.exposeString("tokenName"),
    workspaceId: t.exposeString("workspaceId"),
    role: t.exposeString("role", { description: "viewer, operator or admin; each includes the ones before" }),
    mayCommand: t.boolean({
      description: "whether the token's role may send commands (mutations)",
      resolve: (caller) => roleAllows(caller.role, DEFAULT_ROLES.mutation),
    }),
  }),
});

builder.queryField("caller", (t) => t.field({ type: CallerRef, resolve: (_root, _args, ctx) => ctx.caller }));
