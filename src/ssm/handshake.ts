// The client's answer to the agent's HandshakeRequest (shared/ssm-protocol.md §6).
import { performKmsEncryption, type GenerateDataKey, type SessionCipher, type SessionIdentity } from './kms';
import {
  ActionStatus,
  type HandshakeRequest,
  type HandshakeResponse,
  type KmsEncryptionParameters,
  type ProcessedClientAction,
  type SessionTypeParameters,
} from './payloads';

/**
 * Reported in OpenDataChannel and HandshakeResponse. It must be numeric and above 1.2.331.0, or
 * the agent keeps smux keepalives on (and drops port-forwarding tunnels after a minute), and at
 * least 1.1.70 for multiplexed port forwarding (§9.2). This is the plugin version we follow.
 */
export const CLIENT_VERSION = '1.2.694.0';

/** What the handshake told us about the session. */
export interface SessionInfo {
  /** Standard_Stream, InteractiveCommands, NonInteractiveCommands or Port. */
  readonly sessionType: string;
  /** Resolved document properties (Port sessions: portNumber, host, type…). */
  readonly properties?: Record<string, unknown> | null;
  /** Drives the port-forwarding mode (mux above 3.0.196.0, §9.1); absent without a handshake. */
  readonly agentVersion?: string;
  /** The agent's HandshakeComplete message, e.g. "This session is encrypted using AWS KMS." */
  readonly customerMessage?: string;
  readonly encrypted: boolean;
}

export interface HandshakeContext {
  readonly identity: SessionIdentity;
  readonly generateDataKey?: GenerateDataKey;
  readonly clientVersion: string;
  readonly signal?: AbortSignal;
}

export interface HandshakeAnswer {
  readonly response: HandshakeResponse;
  readonly info: SessionInfo;
  readonly cipher?: SessionCipher;
  /**
   * Why the session cannot go on, when an action failed. The agent cancels the session on any
   * non-success status, so the response is still sent (the agent logs why) and then we stop.
   */
  readonly failure?: Error;
}

export async function answerHandshake(request: HandshakeRequest, context: HandshakeContext): Promise<HandshakeAnswer> {
  const processed: ProcessedClientAction[] = [];
  let sessionType = '';
  let properties: Record<string, unknown> | null | undefined;
  let cipher: SessionCipher | undefined;
  let failure: Error | undefined;

  for (const action of request.RequestedClientActions) {
    if (action.ActionType === 'SessionType') {
      const parameters = (action.ActionParameters ?? {}) as SessionTypeParameters;
      sessionType = parameters.SessionType ?? '';
      properties = parameters.Properties;
      processed.push(succeeded(action.ActionType, null));
    } else if (action.ActionType === 'KMSEncryption') {
      try {
        if (!context.generateDataKey) {
          throw new Error(
            'This instance requires Session Manager KMS encryption, and this client was given no way to call kms:GenerateDataKey.',
          );
        }
        const parameters = action.ActionParameters as KmsEncryptionParameters;
        const result = await performKmsEncryption(parameters, context.identity, context.generateDataKey, context.signal);
        cipher = result.cipher;
        processed.push(succeeded(action.ActionType, result.actionResult));
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
        processed.push({ ActionType: action.ActionType, ActionStatus: ActionStatus.Failed, ActionResult: null, Error: failure.message });
      }
    } else {
      processed.push({
        ActionType: action.ActionType,
        ActionStatus: ActionStatus.Unsupported,
        ActionResult: null,
        Error: `Unsupported action ${action.ActionType}`,
      });
      failure ??= new Error(`The instance asked for "${action.ActionType}", which this client does not support. Update the extension.`);
    }
  }

  const errors = processed.filter((p) => p.Error).map((p) => p.Error);
  return {
    response: { ClientVersion: context.clientVersion, ProcessedClientActions: processed, Errors: errors.length ? errors : null },
    info: { sessionType, properties, agentVersion: request.AgentVersion || undefined, encrypted: cipher !== undefined },
    cipher,
    failure,
  };
}

function succeeded(actionType: string, result: unknown): ProcessedClientAction {
  return { ActionType: actionType, ActionStatus: ActionStatus.Success, ActionResult: result, Error: '' };
}
