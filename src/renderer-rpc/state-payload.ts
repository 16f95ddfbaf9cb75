/** A saved storage state as the API stores it: its JSON text and its order number. */
export interface SavedStateText {
  json: string;
  seq: number;
}

/**
 * A renderer request body (`POST /render`, `POST /cdp/:key`) as JSON text carrying a saved
 * state's JSON text as `storage_state` (and its seq as `state_seq`) without parsing it.
 *
 * The state goes first: JSON.parse keeps the last of repeated keys, so the caller's own fields
 * win over anything a malformed state text would try to add beside it.
 */
export function withSavedState(body: object, state: SavedStateText | null): string {
  const json = JSON.stringify(body);
  if (!state) return json;
  const rest = json.length > 2 ? `,${json.slice(1)}` : '}';
  return `{"storage_state":${state.json},"state_seq":${state.seq}${rest}`;
}
