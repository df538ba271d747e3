// Retransmission timeout from measured round-trip times, with the constants of the plugin and
// the agent (shared/ssm-protocol.md §7.3): RFC 6298's estimator, capped at one second.

export interface RttSettings {
  readonly initialRtoMs: number;
  readonly initialSrttMs: number;
  /** Gain of the smoothed RTT. */
  readonly alpha: number;
  /** Gain of the RTT variation. */
  readonly beta: number;
  readonly clockGranularityMs: number;
  readonly maxRtoMs: number;
}

export const SSM_RTT_SETTINGS: RttSettings = {
  initialRtoMs: 200,
  initialSrttMs: 100,
  alpha: 1 / 8,
  beta: 1 / 4,
  clockGranularityMs: 10,
  maxRtoMs: 1000,
};

export class RttEstimator {
  private srtt: number;
  private rttvar = 0;
  private rto: number;

  constructor(private readonly settings: RttSettings = SSM_RTT_SETTINGS) {
    this.srtt = settings.initialSrttMs;
    this.rto = settings.initialRtoMs;
  }

  get smoothedRttMs(): number {
    return this.srtt;
  }

  get timeoutMs(): number {
    return this.rto;
  }

  sample(rttMs: number): void {
    const { alpha, beta, clockGranularityMs, maxRtoMs } = this.settings;
    this.rttvar = (1 - beta) * this.rttvar + beta * Math.abs(this.srtt - rttMs);
    this.srtt = (1 - alpha) * this.srtt + alpha * rttMs;
    this.rto = Math.min(maxRtoMs, this.srtt + Math.max(clockGranularityMs, 4 * this.rttvar));
  }
}
