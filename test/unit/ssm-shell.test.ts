// ShellSession over a fake data channel: streaming UTF-8 decoding, early output, resize and exit.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChannelEnd, ChannelPayload, ConnectionState } from '../../src/ssm/dataChannel';
import { Emitter } from '../../src/ssm/events';
import { PayloadType } from '../../src/ssm/messages';
import { ShellSession, type PayloadChannel } from '../../src/ssm/session';

class FakeChannel implements PayloadChannel {
  readonly sessionId = 'session-1';
  readonly session = { sessionType: 'Standard_Stream', encrypted: false };
  readonly payloads = new Emitter<ChannelPayload>();
  readonly ends = new Emitter<ChannelEnd>();
  readonly connection = new Emitter<ConnectionState>();
  readonly sent: { payloadType: number; payload: string }[] = [];
  closed = false;
  readonly onPayload = this.payloads.event;
  readonly onEnd = this.ends.event;
  readonly onConnectionChange = this.connection.event;

  async sendOutput(data: Buffer): Promise<void> {
    this.sent.push({ payloadType: PayloadType.Output, payload: data.toString() });
  }

  async sendControl(payloadType: number, payload: Buffer): Promise<void> {
    this.sent.push({ payloadType, payload: payload.toString() });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  output(bytes: Buffer, payloadType: number = PayloadType.Output): void {
    this.payloads.fire({ payloadType, payload: bytes });
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ShellSession', () => {
  test('decodes UTF-8 characters split at every byte across messages', async () => {
    const text = 'aé€😀z'.repeat(3);
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const channel = new FakeChannel();
      const shell = new ShellSession(channel);
      let received = '';
      shell.onData((chunk) => (received += chunk));
      await tick();
      channel.output(bytes.subarray(0, cut));
      channel.output(bytes.subarray(cut, cut + 1));
      channel.output(bytes.subarray(cut + 1));
      assert.equal(received, text, `cut at ${cut}`);
    }
  });

  test('decodes StdErr and ExitCode payloads in the same stream, and ignores flags', async () => {
    const channel = new FakeChannel();
    const shell = new ShellSession(channel);
    let received = '';
    shell.onData((chunk) => (received += chunk));
    await tick();
    const euro = Buffer.from('€');
    channel.output(euro.subarray(0, 1));
    channel.output(euro.subarray(1), PayloadType.StdErr);
    channel.output(Buffer.from([0, 0, 0, 3]), PayloadType.Flag);
    channel.output(Buffer.from('EXIT_CODE: 0'), PayloadType.ExitCode);
    assert.equal(received, '€EXIT_CODE: 0');
  });

  test('hands output that came before any listener to the first one, in order', async () => {
    const channel = new FakeChannel();
    const shell = new ShellSession(channel);
    channel.output(Buffer.from('sh-5.2$ '));
    const received: string[] = [];
    shell.onData((chunk) => received.push(chunk));
    channel.output(Buffer.from('more'));
    await tick();
    channel.output(Buffer.from('!'));
    assert.deepEqual(received, ['sh-5.2$ ', 'more', '!']);
  });

  test('sends keystrokes as UTF-8 and a size only when it changed', async () => {
    const channel = new FakeChannel();
    const shell = new ShellSession(channel);
    await shell.write('é\r');
    await shell.write(Buffer.from('ls'));
    await shell.resize(120, 40);
    await shell.resize(120, 40);
    await shell.resize(100, 40);
    assert.deepEqual(channel.sent, [
      { payloadType: PayloadType.Output, payload: 'é\r' },
      { payloadType: PayloadType.Output, payload: 'ls' },
      { payloadType: PayloadType.Size, payload: '{"cols":120,"rows":40}' },
      { payloadType: PayloadType.Size, payload: '{"cols":100,"rows":40}' },
    ]);
    await assert.rejects(shell.resize(0, 10), RangeError);
  });

  test('reports the end once, flushing a cut-off character, also to a late listener', async () => {
    const channel = new FakeChannel();
    const shell = new ShellSession(channel);
    let received = '';
    shell.onData((chunk) => (received += chunk));
    await tick();
    channel.output(Buffer.from('€').subarray(0, 2));
    const end: ChannelEnd = { reason: 'closed', message: 'Session terminated by the administrator.' };
    channel.ends.fire(end);
    assert.equal(received, '\ufffd');
    const late = await new Promise((resolve) => shell.onExit(resolve));
    assert.deepEqual(late, end);
  });

  test('close() closes the channel', async () => {
    const channel = new FakeChannel();
    await new ShellSession(channel).close();
    assert.equal(channel.closed, true);
  });
});
