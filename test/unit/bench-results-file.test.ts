import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { writeE2eResults, writeInProcessResults } from '../../bench/results-file';

describe('bench results files: the in-process report and the end-to-end section keep each other', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'results-file-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('regenerating either one leaves the other as it was, and never duplicates the section', () => {
    const file = path.join(dir, 'results.md');
    writeE2eResults(file, '## End-to-end\n\nfirst e2e');
    writeInProcessResults(file, '# In-process\n\nfirst in-process\n');
    let text = readFileSync(file, 'utf8');
    expect(text.startsWith('# In-process\n\nfirst in-process\n')).toBe(true);
    expect(text).toContain('first e2e');

    writeE2eResults(file, '## End-to-end\n\nsecond e2e');
    text = readFileSync(file, 'utf8');
    expect(text).toContain('first in-process');
    expect(text).toContain('second e2e');
    expect(text).not.toContain('first e2e');
    expect(text.match(/e2e:begin/g)).toHaveLength(1);

    writeInProcessResults(file, '# In-process\n\nsecond in-process\n');
    text = readFileSync(file, 'utf8');
    expect(text).not.toContain('first in-process');
    expect(text).toContain('second in-process');
    expect(text).toContain('second e2e');
    expect(text.match(/e2e:end/g)).toHaveLength(1);
  });

  it('a file without an end-to-end section is written as given', () => {
    const file = path.join(dir, 'results.md');
    writeInProcessResults(file, '# In-process\n');
    expect(readFileSync(file, 'utf8')).toBe('# In-process\n');
  });
});
