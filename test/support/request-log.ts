import pino from 'pino';
import { loggerFor } from '../../src/common/logger';
import type { AppConfig } from '../../src/config/app-config';

/**
 * Captures the log lines of the app booted with `config` from now on (silencing them); each
 * call of the returned function gives the lines written since the last, without wall-clock
 * time, process and timing: the only fields two runs of the same requests cannot share.
 */
export function captureLogLines(config: AppConfig): () => Record<string, unknown>[] {
  const stream = (loggerFor(config) as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { write(line: string): boolean };
  const lines: string[] = [];
  jest.spyOn(stream, 'write').mockImplementation((line: string) => lines.push(line) > 0);
  return () =>
    lines.splice(0).flatMap((chunk) =>
      chunk
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const { time, pid, hostname, ms, ...rest } = JSON.parse(line) as Record<string, unknown>;
          return rest;
        }),
    );
}
