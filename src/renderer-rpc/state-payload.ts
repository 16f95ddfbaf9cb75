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
  return state ? withLeadingFields(`"storage_state":${state.json},"state_seq":${state.seq}`, json) : json;
}

/**
 * The same body with the saved state left out: only its `state_seq`, and `state_omitted`. A
 * warm context has no use for the state (it is restored only into a context being created), and
 * a session's state can be hundreds of KB that the renderer would parse and validate on every
 * render; a renderer without the warm context answers `state_required`, and the caller sends
 * the body again from withSavedState.
 */
export function withStateLeftOut(body: object, state: Pick<SavedStateText, 'seq'>): string {
  return withLeadingFields(`"state_seq":${state.seq},"state_omitted":true`, JSON.stringify(body));
}

/** `{<fields>,…json's own fields}`: the fields first, so the body's own win over them. */
function withLeadingFields(fields: string, json: string): string {
  return json.length > 2 ? `{${fields},${json.slice(1)}` : `{${fields}}`;
}
