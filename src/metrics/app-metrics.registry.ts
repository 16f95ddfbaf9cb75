import { Registry } from 'prom-client';

/**
 * The API instance's own metrics (sessions, renders, backend). One per application, not
 * prom-client's process-wide default registry: two apps in one process (the e2e tests) then
 * never share a series, and scrape-time collectors always read their own app's store.
 * The process metrics (`process_*`, `nodejs_*`) stay on the default registry; /metrics serves both.
 */
export class AppMetricsRegistry extends Registry {}
