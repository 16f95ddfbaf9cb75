import type { StorageState } from '../renderer-rpc';

export type StateCookie = StorageState['cookies'][number];
export type StateOrigin = StorageState['origins'][number];
export type StorageItem = StateOrigin['localStorage'][number];

/**
 * The canonical form of a storage state (Playwright's storageState shape): cookies by name,
 * domain and path, origins by origin, localStorage items by name, origins without items left
 * out (as storageState() leaves them out). Two states hold the same cookies and localStorage
 * exactly when their canonical forms stringify to the same JSON, which is how a render tells
 * whether it changed the state. Other per-origin fields (indexedDB, which we never export) are
 * dropped. Tolerant of a restored state's loose outline: Playwright accepts it the same way.
 */
export function canonicalState(state: StorageState): StorageState {
  return {
    cookies: sortCookies(state.cookies ?? []),
    origins: sortOrigins(
      (state.origins ?? []).map(({ origin, localStorage }) => ({ origin, localStorage: sortItems(localStorage ?? []) })),
    ),
  };
}

/**
 * The origins of `known` with the localStorage just read from the live origins laid over it:
 * a live origin's items replace what was known (none: the origin is dropped); an origin not
 * live keeps its known items, since nothing of it ran to change them. Canonical order.
 */
export function mergeLocalStorage(known: readonly StateOrigin[], live: ReadonlyMap<string, StorageItem[]>): StateOrigin[] {
  const merged = known.filter(({ origin }) => !live.has(origin));
  for (const [origin, items] of live) if (items.length > 0) merged.push({ origin, localStorage: sortItems(items) });
  return sortOrigins(merged);
}

export function sortCookies(cookies: readonly StateCookie[]): StateCookie[] {
  return [...cookies].sort((a, b) => compare(a.name, b.name) || compare(a.domain, b.domain) || compare(a.path, b.path));
}

function sortOrigins(origins: StateOrigin[]): StateOrigin[] {
  return origins.filter(({ localStorage }) => localStorage.length > 0).sort((a, b) => compare(a.origin, b.origin));
}

function sortItems(items: readonly StorageItem[]): StorageItem[] {
  return [...items].sort((a, b) => compare(a.name, b.name));
}

/** Code-unit order: the same on every machine (localeCompare is not). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
