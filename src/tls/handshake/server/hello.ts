import { TlsAlertError } from '../../alert.js';
import type { ServerConfig } from '../../config.js';
import { ExtensionType, HandshakeType, ProtocolVersion } from '../../codec/enums.js';
import { encodeOpaque16, encodeU16, type KeyShareEntry } from '../../codec/extensions.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import { encodeServerHello, HELLO_RETRY_REQUEST_RANDOM } from '../../codec/messages/server-hello.js';
import type { SuiteInfo } from '../../crypto/suites.js';
import { Transcript } from '../../keyschedule/transcript.js';
import { constantTimeEqual } from '../../../shared/bytes.js';
import { requireMessage, StateBase, type HandshakeContext, type HandshakeState } from '../state.js';
import { decodeClientHello } from '../../codec/messages/client-hello.js';
import { startTls12 } from '../server12/index.js';
import { checkRetryConsistent, chooseVersion, readClientOffer, type ClientOffer } from './client-offer.js';
import { chooseGroup, chooseSuite } from './choose.js';
import { afterServerFlight } from './expect-client.js';
import { planFlight, sendServerFlight } from './flight.js';

function helloRetryCookie(config: ServerConfig, clientHello1: Buffer, hash: SuiteInfo['hash']): Buffer {
  return config.provider.hmac('sha256', config.cookieSecret, Buffer.concat([Buffer.from(hash, 'latin1'), clientHello1]));
}

/** Chooses, sends our flight (ServerHello..Finished) and returns the state that reads the client's. */
function negotiate(
  ctx: HandshakeContext,
  config: ServerConfig,
  offer: ClientOffer,
  suite: SuiteInfo,
  share: KeyShareEntry,
  transcriptAfterRetry: Transcript | undefined,
): HandshakeState {
  const plan = planFlight(ctx, config, offer, suite, share, transcriptAfterRetry);
  const next = afterServerFlight(plan, sendServerFlight(plan));
  // Reported once the flight is out and the resumed identity re-checked: accepted 0-RTT hands the socket on.
  if (plan.earlyData !== undefined) ctx.earlyData.note(plan.earlyData);
  return next;
}

/** The server starts here: the first ClientHello. */
export class ExpectClientHello extends StateBase {
  readonly name = 'ExpectClientHello';

  constructor(
    private readonly ctx: HandshakeContext,
    private readonly config: ServerConfig,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.client_hello, this.name);
    const hello = decodeClientHello(message.body);
    if (chooseVersion(hello, this.config) === 'TLSv1.2') return startTls12(this.ctx, this.config, message, hello);
    const offer = readClientOffer(message, hello);
    // §4.2.2: a cookie in the first ClientHello is one we never sent.
    if (offer.cookie !== undefined) throw new TlsAlertError('illegal_parameter', 'cookie in the first ClientHello');
    const suite = chooseSuite(this.config, offer);
    const choice = chooseGroup(this.config, offer);
    if ('retryGroup' in choice) return this.retry(offer, suite, choice.retryGroup);
    return negotiate(this.ctx, this.config, offer, suite, choice.share, undefined);
  }

  /** §4.1.4: ask for a share in the group we chose. */
  private retry(offer: ClientOffer, suite: SuiteInfo, group: number): HandshakeState {
    const transcript = Transcript.afterRetry(this.ctx.provider, suite.hash, offer.raw);
    const cookie = helloRetryCookie(this.config, offer.raw, suite.hash);
    const hrr = encodeServerHello({
      random: HELLO_RETRY_REQUEST_RANDOM,
      legacySessionIdEcho: offer.hello.legacySessionId,
      cipherSuite: suite.id,
      extensions: [
        { type: ExtensionType.supported_versions, data: encodeU16(ProtocolVersion.TLS13) },
        { type: ExtensionType.key_share, data: encodeU16(group) },
        { type: ExtensionType.cookie, data: encodeOpaque16(cookie) },
      ],
    });
    transcript.add(this.ctx.sendHandshake(HandshakeType.server_hello, hrr));
    // §D.4: the compatibility CCS follows our first handshake message.
    if (offer.hello.legacySessionId.length > 0) this.ctx.sendChangeCipherSpec();
    // §4.2.10: a HelloRetryRequest refuses 0-RTT; records sent before the retry are skipped, undecrypted.
    if (offer.hasEarlyData) {
      this.ctx.earlyData.note({ accepted: false, reason: 'hello_retry' });
      this.ctx.earlyData.skip('plaintext');
    }
    return new ExpectSecondClientHello(this.ctx, this.config, { first: offer, suite, group, cookie, transcript });
  }
}

/** What a HelloRetryRequest asked for, to hold the second ClientHello to it. */
interface RetryRequested {
  readonly first: ClientOffer;
  readonly suite: SuiteInfo;
  readonly group: number;
  readonly cookie: Buffer;
  /** message_hash(ClientHello1) and the HelloRetryRequest (§4.4.1). */
  readonly transcript: Transcript;
}

/** After a HelloRetryRequest: the second ClientHello, checked against the first (§4.1.2). */
class ExpectSecondClientHello extends StateBase {
  readonly name = 'ExpectSecondClientHello';

  constructor(
    private readonly ctx: HandshakeContext,
    private readonly config: ServerConfig,
    private readonly retry: RetryRequested,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.client_hello, this.name);
    const retry = this.retry;
    this.ctx.earlyData.skip('none');
    const offer = readClientOffer(message);
    checkRetryConsistent(retry.first, offer);
    // §4.2.2: the cookie must come back unchanged.
    if (offer.cookie === undefined || !constantTimeEqual(offer.cookie, retry.cookie)) {
      throw new TlsAlertError('illegal_parameter', 'cookie missing or altered');
    }
    // §4.1.4: the client must now use the suite and group we named.
    if (!offer.hello.cipherSuites.includes(retry.suite.id)) {
      throw new TlsAlertError('illegal_parameter', 'second ClientHello drops the chosen suite');
    }
    const [share] = offer.keyShares;
    if (offer.keyShares.length !== 1 || share === undefined || share.group !== retry.group) {
      throw new TlsAlertError('illegal_parameter', 'second ClientHello lacks exactly one share for the requested group');
    }
    // §4.2.10: a client MUST NOT offer early data after a HelloRetryRequest.
    if (offer.hasEarlyData) throw new TlsAlertError('illegal_parameter', 'early_data after HelloRetryRequest');
    return negotiate(this.ctx, this.config, offer, retry.suite, share, retry.transcript);
  }
}
