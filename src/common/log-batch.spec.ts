import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModuleKind, ScriptTarget, transpileModule } from 'typescript';
import { LogBatch } from './log-batch';

const line = (i: number) => `{"n":${i}}\n`;

describe('LogBatch', () => {
  let writes: string[];
  const sink = { write: (text: string) => writes.push(text) };
  beforeEach(() => (writes = []));

  it('writes the lines it gathered as one text, in order, once it holds maxChars', () => {
    const batch = new LogBatch(sink, { maxChars: 4 * line(0).length, maxDelayMs: 60_000 });
    for (let i = 0; i < 3; i++) batch.write(line(i));
    expect(writes).toEqual([]);
    batch.write(line(3));
    expect(writes).toEqual([line(0) + line(1) + line(2) + line(3)]);
    batch.write(line(4));
    batch.flush();
    expect(writes).toEqual([line(0) + line(1) + line(2) + line(3), line(4)]);
  });

  it('writes a line that waits alone after maxDelayMs', async () => {
    const batch = new LogBatch(sink, { maxChars: 1 << 20, maxDelayMs: 20 });
    batch.write(line(1));
    batch.write(line(2));
    expect(writes).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(writes).toEqual([line(1) + line(2)]);
  });

  it('writes what it gathered when the process exits, without keeping it alive', () => {
    // A process of its own, since the 'exit' listener is what is tested: this module,
    // compiled alone (it imports nothing), batching 3 lines for an hour, into stdout.
    const source = readFileSync(join(__dirname, 'log-batch.ts'), 'utf8');
    const compiled = transpileModule(source, { compilerOptions: { module: ModuleKind.CommonJS, target: ScriptTarget.ES2022 } }).outputText;
    const script = `
      const m = { exports: {} };
      new Function('exports', 'module', ${JSON.stringify(compiled)})(m.exports, m);
      const batch = new m.exports.LogBatch({ write: (text) => require('node:fs').writeSync(1, text) }, { maxChars: 1 << 20, maxDelayMs: 3600000 });
      for (const n of [1, 2, 3]) batch.write(JSON.stringify({ n }) + '\\n');`;
    const started = Date.now();
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect({ status: run.status, stderr: run.stderr, stdout: run.stdout }).toEqual({ status: 0, stderr: '', stdout: line(1) + line(2) + line(3) });
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
