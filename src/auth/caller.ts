import type { Role } from "./roles.js";

/** Who is calling, as its API token says. */
export interface Caller {
  tokenId: string;
  tokenName: string;
  /** The one workspace the token may see and change. */
  workspaceId: string;
  role: Role;
  /** Shorthand for "admin or above". */
  admin: boolean;
}
