/**
 * The API token the console signs in with. Kept in sessionStorage (gone when the tab closes, never
 * shared with other tabs) and only ever sent in the Authorization header, never in a URL.
 */
const KEY = "runstream.token";

export const session = {
  token: (): string | null => sessionStorage.getItem(KEY),
  signIn: (token: string): void => sessionStorage.setItem(KEY, token.trim()),
  signOut: (): void => sessionStorage.removeItem(KEY),
};
