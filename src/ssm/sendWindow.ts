// Client → agent messages sent and not yet acknowledged, kept as their encoded bytes until the
// agent acknowledges each one (acks are per message, not cumulative: shared/ssm-protocol.md §7).
import { RttEstimator } from './rtt';

export interface InFlightMessage {
  readonly sequenceNumber: number;
  readonly bytes: Buffer;
  /** When it was first put on a websocket; undefined while it waits for a connection. */
  firstSentAt?: number;
  lastSentAt?: number;
  sends: number;
}

export class SendWindow {
  private nextSequenceNumber = 0;
  /** In sequence order: Map keeps insertion order and numbers are allocated in order. */
  private readonly unacked = new Map<number, InFlightMessage>();

  constructor(readonly rtt = new RttEstimator()) {}

  get size(): number {
    return this.unacked.size;
  }

  /**
   * Numbers and keeps a message. The counter never resets, not even across reconnects, and a
   * number once given is never skipped: the agent parks everything after a gap forever.
   */
  add(encode: (sequenceNumber: number) => Buffer): InFlightMessage {
    const sequenceNumber = this.nextSequenceNumber++;
    const message: InFlightMessage = { sequenceNumber, bytes: encode(sequenceNumber), sends: 0 };
    this.unacked.set(sequenceNumber, message);
    return message;
  }

  markSent(message: InFlightMessage, now: number): void {
    message.firstSentAt ??= now;
    message.lastSentAt = now;
    message.sends++;
  }

  /**
   * Forgets an acknowledged message and feeds the RTT estimator. Only messages sent once give a
   * sample (Karn's rule): for a resent one we cannot tell which copy the ack answers.
   */
  acknowledge(sequenceNumber: number, now: number): boolean {
    const message = this.unacked.get(sequenceNumber);
    if (!message) return false;
    this.unacked.delete(sequenceNumber);
    if (message.sends === 1 && message.lastSentAt !== undefined) this.rtt.sample(now - message.lastSentAt);
    return true;
  }

  /** Messages to put on the wire, oldest first: never sent, or sent and their timeout has run out. */
  *due(now: number): Generator<InFlightMessage> {
    const timeout = this.rtt.timeoutMs;
    for (const message of this.unacked.values()) {
      if (message.lastSentAt === undefined || now - message.lastSentAt >= timeout) yield message;
    }
  }

  /** Makes every unacknowledged message due at once: a new websocket must carry them all again. */
  resendAll(): void {
    for (const message of this.unacked.values()) message.lastSentAt = undefined;
  }

  /** When the oldest unacknowledged message was first sent: how long the agent has been silent. */
  oldestFirstSentAt(): number | undefined {
    for (const message of this.unacked.values()) return message.firstSentAt;
    return undefined;
  }
}
