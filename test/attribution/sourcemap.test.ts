import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizeFrames } from '../../src/attribution/frames.js';
import { decodeDataUrl, findMapUrl, SourceMapper } from '../../src/attribution/sourcemap.js';

const dir = mkdtempSync(join(tmpdir(), 'loopwatch-maps-'));
mkdirSync(join(dir, 'dist'), { recursive: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A map of a 3-line generated file onto ../src/<name>.ts: generated line 1 → source line 1,
 * line 2 col 4 → source line 5 col 2, line 3 col 0 → source line 9 col 0.
 * "AAAA" = gen col 0, src 0, line 0, col 0; "IAIE" = +4, +0, +4, +2; "AAIF" = 0, 0, +4, -2.
 */
function mapJson(name: string): string {
  return JSON.stringify({ version: 3, file: `${name}.js`, sources: [`../src/${name}.ts`], names: [], mappings: 'AAAA;IAIE;AAIF' });
}
const CODE = 'line1();\n    line2();\nline3();\n';

function writeExternal(name: string): string {
  const js = join(dir, 'dist', `${name}.js`);
  writeFileSync(js, `${CODE}//# sourceMappingURL=${name}.js.map\n`, { flag: 'w' });
  writeFileSync(`${js}.map`, mapJson(name));
  return js;
}

describe('SourceMapper', () => {
  it('maps through an external .map file, 1-based lines and columns both ways', () => {
    const js = writeExternal('ext');
    const m = new SourceMapper();
    expect(m.map(js, 2, 5)).toEqual({ file: join(dir, 'src', 'ext.ts'), line: 5, column: 3 });
    expect(m.map(js, 3, 1)).toEqual({ file: join(dir, 'src', 'ext.ts'), line: 9, column: 1 });
    // Past the last segment of a line: the segment before it.
    expect(m.map(js, 2, 9)?.line).toBe(5);
  });

  it('maps through an inline base64 map and a percent-encoded one', () => {
    const a = join(dir, 'dist', 'inline64.js');
    writeFileSync(a, `${CODE}//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(mapJson('inline64')).toString('base64')}`);
    const b = join(dir, 'dist', 'inlinepct.js');
    writeFileSync(b, `${CODE}/*# sourceMappingURL=data:application/json,${encodeURIComponent(mapJson('inlinepct'))} */\n`);
    const m = new SourceMapper();
    expect(m.map(a, 2, 5)).toEqual({ file: join(dir, 'src', 'inline64.ts'), line: 5, column: 3 });
    expect(m.map(b, 3, 1)).toEqual({ file: join(dir, 'src', 'inlinepct.ts'), line: 9, column: 1 });
  });

  it('leaves frames unmapped, without throwing, for bad, missing, oversized or absent maps', () => {
    const bad = join(dir, 'dist', 'bad.js');
    writeFileSync(bad, `${CODE}//# sourceMappingURL=bad.js.map\n`);
    writeFileSync(`${bad}.map`, '{"version":3,"mappings":');
    const missing = join(dir, 'dist', 'missing.js');
    writeFileSync(missing, `${CODE}//# sourceMappingURL=missing.js.map\n`);
    const none = join(dir, 'dist', 'none.js');
    writeFileSync(none, CODE);
    const badData = join(dir, 'dist', 'baddata.js');
    writeFileSync(badData, `${CODE}//# sourceMappingURL=data:application/json;base64,!!!!\n`);
    const big = writeExternal('big');
    const m = new SourceMapper({ maxFiles: 10, maxFileBytes: 80, maxTotalBytes: 1000 });
    for (const file of [bad, missing, none, badData, big, join(dir, 'nope.js')]) expect(m.map(file, 2, 5)).toBeNull();
    expect(m.map('relative/file.js', 2, 5)).toBeNull();
    expect(m.map(big, 0, 0)).toBeNull();
    // The same files with a larger size limit: only the good one maps.
    expect(new SourceMapper().map(big, 2, 5)?.line).toBe(5);
  });

  it('keeps at most maxFiles files, least recently used out first, and reads a file once while cached', () => {
    const files = ['c1', 'c2', 'c3'].map(writeExternal);
    const m = new SourceMapper({ maxFiles: 2, maxFileBytes: 1 << 20, maxTotalBytes: 1 << 20 });
    m.map(files[0], 2, 5);
    m.map(files[1], 2, 5);
    m.map(files[0], 2, 5); // c1 is now the most recent
    expect(m.loads).toBe(2);
    m.map(files[2], 2, 5); // evicts c2
    expect(m.size).toBe(2);
    expect(m.loads).toBe(3);
    m.map(files[0], 2, 5);
    expect(m.loads).toBe(3);
    m.map(files[1], 2, 5);
    expect(m.loads).toBe(4);
    expect(m.size).toBe(2);
  });

  it('keeps the sum of map sizes under maxTotalBytes', () => {
    const files = ['t1', 't2', 't3'].map(writeExternal);
    const one = mapJson('t1').length;
    const m = new SourceMapper({ maxFiles: 100, maxFileBytes: 1 << 20, maxTotalBytes: one * 2 + 1 });
    for (const f of files) expect(m.map(f, 2, 5)?.line).toBe(5);
    expect(m.size).toBe(2);
  });
});

describe('findMapUrl / decodeDataUrl', () => {
  it('takes only a trailing comment', () => {
    expect(findMapUrl('x();\n//# sourceMappingURL=a.js.map\n')).toBe('a.js.map');
    expect(findMapUrl('x();\n//@ sourceMappingURL=b.map')).toBe('b.map');
    expect(findMapUrl('//# sourceMappingURL=a.js.map\nx();\n')).toBeNull();
    expect(findMapUrl('const s = "//# sourceMappingURL=a.js.map";')).toBeNull();
    expect(decodeDataUrl('data:application/json,%7B%7D')).toBe('{}');
    expect(decodeDataUrl('data:application/json')).toBeNull();
  });
});

describe('normalizeFrames with source maps', () => {
  it('reports the source file relative to cwd and takes the origin from the source', () => {
    const js = writeExternal('app');
    const dep = join(dir, 'dist', 'bundle.js');
    writeFileSync(dep, `${CODE}//# sourceMappingURL=bundle.js.map\n`);
    writeFileSync(`${dep}.map`, JSON.stringify({ version: 3, sources: ['../node_modules/lib/index.ts'], names: [], mappings: 'AAAA;IAIE;AAIF' }));
    const frames = normalizeFrames([
      ['work', js, 2, 5, 0],
      ['libWork', dep, 2, 5, 0],
      ['emit', 'node:events', 10, 3, 0],
      ['plain', join(dir, 'dist', 'none.js'), 7, 1, 0],
    ], { cwd: dir, sourceMaps: new SourceMapper() });
    expect(frames.map((f) => [f.file, f.line, f.column, f.inApp, f.origin])).toEqual([
      ['src/app.ts', 5, 3, true, 'app'],
      ['node_modules/lib/index.ts', 5, 3, false, 'dependency'],
      ['node:events', 10, 3, false, 'node'],
      ['dist/none.js', 7, 1, true, 'app'],
    ]);
  });
});
