// Payloads the application asked to send, waiting for room in the send window. Output bytes are
// cut into and coalesced up to 1,024-byte payloads, as the official client reads its input
// (shared/ssm-protocol.md §7.4): keystrokes typed while the window is full travel together.
import { PayloadType } from './messages';

export const MAX_PAYLOAD_BYTES = 1024;

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

interface QueuedPayload {
  readonly payloadType: number;
  readonly chunks: Buffer[];
  length: number;
  /** Callers whose last byte is in this payload; they are done once it has a sequence number. */
  readonly waiters: Waiter[];
}

export class SendQueue {
  private readonly queue: QueuedPayload[] = [];
  private failure?: Error;

  get length(): number {
    return this.queue.length;
  }

  /** Queues a payload; resolves once all of it has left the queue, rejects if the channel ends first. */
  push(payloadType: number, payload: Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    // Copied because the caller may reuse its buffer before the payload leaves the queue.
    payload = Buffer.from(payload);
    let last: QueuedPayload | undefined;
    if (payloadType !== PayloadType.Output) {
      last = this.append(payloadType, payload);
    } else {
      for (let offset = 0; offset < payload.length; ) {
        const tail = this.queue.at(-1);
        const room = tail?.payloadType === PayloadType.Output ? MAX_PAYLOAD_BYTES - tail.length : 0;
        if (tail && room > 0) {
          const piece = payload.subarray(offset, offset + room);
          tail.chunks.push(piece);
          tail.length += piece.length;
          offset += piece.length;
          last = tail;
        } else {
          const piece = payload.subarray(offset, offset + MAX_PAYLOAD_BYTES);
          last = this.append(payloadType, piece);
          offset += piece.length;
        }
      }
    }
    if (!last) return Promise.resolve();
    const owner = last;
    return new Promise((resolve, reject) => owner.waiters.push({ resolve, reject }));
  }

  /** The next payload to number and send; its senders are released. */
  shift(): { payloadType: number; payload: Buffer } | undefined {
    const next = this.queue.shift();
    if (!next) return undefined;
    for (const waiter of next.waiters) waiter.resolve();
    return { payloadType: next.payloadType, payload: Buffer.concat(next.chunks, next.length) };
  }

  /** Rejects everything queued and everything pushed later. */
  fail(err: Error): void {
    this.failure = err;
    for (const item of this.queue.splice(0)) for (const waiter of item.waiters) waiter.reject(err);
  }

  private append(payloadType: number, piece: Buffer): QueuedPayload {
    const item: QueuedPayload = { payloadType, chunks: [piece], length: piece.length, waiters: [] };
    this.queue.push(item);
    return item;
  }
}
