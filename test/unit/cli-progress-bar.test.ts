import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createProgressDisplay, renderPlainLine, renderProgressLine, type DisplayStream } from '../../src/cli/progressBar';
import type { ProgressReport } from '../../src/core/progress';
import { RateMeter } from '../../src/core/rate';

const HALF: ProgressReport = { bytesDone: 1e9, bytesTotal: 2e9, itemsDone: 10, itemsTotal: 20 };
const DETAILS = '1.00 GB of 2.00 GB · 10 of 20 files · 100 MB/s · 10 s left';

describe('renderProgressLine', () => {
  test('a bar, the percentage and the details, filling the width up to a 40-column bar', () => {
    const line = renderProgressLine(HALF, DETAILS, 120);
    assert.equal(line, `[${'█'.repeat(20)}${'░'.repeat(20)}]  50% ${DETAILS}`);
  });

  test('the bar shrinks to fit the width exactly', () => {
    const line = renderProgressLine(HALF, DETAILS, 80);
    assert.equal(line.length, 80);
    const bar = /^\[([█░]+)\]/.exec(line)![1];
    assert.equal(bar.length, 80 - ' 50% '.length - DETAILS.length - 3);
    assert.equal(bar.replace(/░/g, '').length, Math.floor(bar.length / 2));
  });

  test('never wider than the width; the details win over the bar, then are cut with an ellipsis', () => {
    for (let width = 1; width <= 140; width++) {
      assert.ok(renderProgressLine(HALF, DETAILS, width).length <= width, `width ${width}`);
    }
    assert.equal(renderProgressLine(HALF, DETAILS, 70), ` 50% ${DETAILS}`, 'no room for a 10-column bar: no bar');
    assert.equal(renderProgressLine(HALF, DETAILS, 20), ' 50% 1.00 GB of 2.0…');
  });

  test('rounds down, so 100% means done', () => {
    assert.match(renderProgressLine({ bytesDone: 999, bytesTotal: 1000, itemsDone: 0 }, 'x', 60), /\]  99% x$/);
    assert.match(renderProgressLine({ bytesDone: 1000, bytesTotal: 1000, itemsDone: 1 }, 'x', 60), /^\[█+\] 100% x$/);
    assert.match(renderProgressLine({ bytesDone: 0, bytesTotal: 1000, itemsDone: 0 }, 'x', 60), /^\[░+\]   0% x$/);
  });

  test('empty files only: the fraction comes from files', () => {
    assert.match(renderProgressLine({ bytesDone: 0, bytesTotal: 0, itemsDone: 3, itemsTotal: 4 }, 'x', 60), /\]  75% x$/);
  });

  test('no totals yet: the details alone, no bar', () => {
    assert.equal(renderProgressLine({ bytesDone: 5e6, itemsDone: 2 }, '5.00 MB', 80), '5.00 MB');
  });

  test('with what RateMeter says about a steady 100 MB/s', () => {
    let now = 0;
    const meter = new RateMeter(5000, () => now);
    meter.describe({ ...HALF, bytesDone: 0.9e9, itemsDone: 9 });
    now = 1000;
    assert.equal(renderProgressLine(HALF, meter.describe(HALF), 120), `[${'█'.repeat(20)}${'░'.repeat(20)}]  50% ${DETAILS}`);
  });
});

describe('renderPlainLine', () => {
  test('the percentage and the details, no bar and no control characters', () => {
    assert.equal(renderPlainLine(HALF, DETAILS), `50% ${DETAILS}`);
    assert.equal(renderPlainLine({ bytesDone: 0, itemsDone: 0 }, '0 B'), '0 B');
  });
});

/** A stream that records what is written to it. */
function recorder(isTTY: boolean, columns = 60): DisplayStream & { text: string } {
  return {
    isTTY,
    columns,
    text: '',
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

describe('createProgressDisplay', () => {
  test('on a terminal: redrawn in place, cleared around other text, ended with a newline', () => {
    const stream = recorder(true);
    const display = createProgressDisplay(stream, () => 0);
    display.sink({ bytesDone: 0, bytesTotal: 100, itemsDone: 0, itemsTotal: 1 });
    display.sink({ bytesDone: 50, bytesTotal: 100, itemsDone: 0, itemsTotal: 1 });
    const redraws = stream.text.split('\r').filter(Boolean);
    assert.equal(redraws.length, 2);
    for (const line of redraws) {
      assert.ok(line.endsWith('\x1b[K'), 'each redraw clears what a longer line left');
      assert.ok(line.length - 3 <= 59, 'one column short of the terminal');
    }
    assert.match(redraws[1], /50%/);
    stream.text = '';
    display.around(() => stream.write('a warning\n'));
    assert.match(stream.text, /^\r\x1b\[Ka warning\n\r\[.*50%.*\x1b\[K$/);
    stream.text = '';
    display.finish();
    assert.equal(stream.text, '\n');
  });

  test('in a log file: the first report at once, then one line per interval, the last one at the end', () => {
    const stream = recorder(false);
    let now = 0;
    const display = createProgressDisplay(stream, () => now);
    display.sink({ bytesDone: 0, bytesTotal: 100, itemsDone: 0, itemsTotal: 4 });
    now = 5_000;
    display.sink({ bytesDone: 25, bytesTotal: 100, itemsDone: 1, itemsTotal: 4 });
    assert.equal(stream.text.split('\n').filter(Boolean).length, 1);
    now = 15_000;
    display.sink({ bytesDone: 50, bytesTotal: 100, itemsDone: 2, itemsTotal: 4 });
    now = 16_000;
    display.sink({ bytesDone: 100, bytesTotal: 100, itemsDone: 4, itemsTotal: 4 });
    display.finish();
    const lines = stream.text.split('\n').filter(Boolean);
    assert.equal(lines.length, 3);
    assert.match(lines[0], /^0% 0 B of 100 B · 0 of 4 files$/);
    assert.match(lines[1], /^50% 50 B of 100 B · 2 of 4 files/);
    assert.match(lines[2], /^100% 100 B of 100 B · 4 of 4 files/);
    assert.doesNotMatch(stream.text, /[\r\x1b]/);
  });

  test('in a log file, the same last line is not written twice', () => {
    const stream = recorder(false);
    const display = createProgressDisplay(stream, () => 0);
    const done = { bytesDone: 3, bytesTotal: 3, itemsDone: 1, itemsTotal: 1 };
    display.sink(done);
    display.sink(done);
    display.finish();
    assert.equal(stream.text, '100% 3 B of 3 B\n');
  });

  test('a job with nothing to move (a sync that only deletes) shows no progress at all', () => {
    for (const isTTY of [true, false]) {
      const stream = recorder(isTTY);
      const display = createProgressDisplay(stream, () => 0);
      display.sink({ bytesDone: 0, bytesTotal: 0, itemsDone: 0, itemsTotal: 0 });
      display.finish();
      assert.equal(stream.text, '', `isTTY ${isTTY}`);
    }
  });
});
