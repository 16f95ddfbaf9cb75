/**
 * The API↔renderer contract: the one module both processes import. The renderer knows
 * nothing of sessions or tenants; it sees opaque context keys.
 */
export * from './cdp';
export * from './context-key';
export * from './render-action.dto';
export * from './render-errors';
export * from './render-options.dto';
export * from './render-parts';
export * from './render-proxy.dto';
export * from './render-request.dto';
export * from './render-response';
export * from './renderer-token';
export * from './state-payload';
