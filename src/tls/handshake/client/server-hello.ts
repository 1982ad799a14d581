import { TlsAlertError } from '../../alert.js';
import type { ClientConfig } from '../../config.js';
import { ExtensionType, HandshakeType, ProtocolVersion } from '../../codec/enums.js';
import { checkExtensionsAllowed, decodeOpaque16, decodeServerKeyShare, decodeU16, findExtension } from '../../codec/extensions.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import {
  decodeServerHello,
  DOWNGRADE_TLS11,
  DOWNGRADE_TLS12,
  isHelloRetryRequest,
  type ServerHello,
} from '../../codec/messages/server-hello.js';
import { suiteInfo, type SuiteInfo } from '../../crypto/suites.js';
import { EarlySecret } from '../../keyschedule/stages.js';
import { Transcript } from '../../keyschedule/transcript.js';
import type { ClientSession } from '../../tickets.js';
import { requireMessage, StateBase, type HandshakeContext, type HandshakeState } from '../state.js';
import {
  buildClientHello,
  earlyDataFor,
  fillBinder,
  sendEarlyData,
  usableSession,
  type ClientHelloOffer,
  type ClientHelloSent,
} from './client-hello.js';
import type { ClientHandshakeKeys } from './negotiated.js';
import { ExpectEncryptedExtensions } from './server-auth.js';
import { acceptServerHello12 } from '../client12/hello12.js';
import { tls12Suites, versionOffer } from '../client12/offer12.js';
import { usableTls12Session, type Tls12ClientSession } from '../client12/session12.js';

/**
 * Starts a client handshake: sends ClientHello and returns the state
 * awaiting ServerHello. `session` is a TLS 1.3 ticket (offered as a PSK),
 * `session12` a TLS 1.2 one (offered in session_ticket when 1.2 is).
 */
export function startClientHandshake(
  ctx: HandshakeContext,
  config: ClientConfig,
  session: ClientSession | undefined,
  session12?: Tls12ClientSession,
): HandshakeState {
  const versions = versionOffer(config);
  const random = ctx.provider.randomBytes(32);
  // One share, for our first group; a server wanting another asks with HelloRetryRequest. None without TLS 1.3.
  const [firstGroup] = config.groups;
  if (firstGroup === undefined) throw new TlsAlertError('internal_error', 'no key-exchange group configured');
  const keyShares = versions.tls13 ? [ctx.provider.generateKeyExchange(firstGroup)] : [];
  const sessionId = ctx.provider.randomBytes(32);
  const usable = versions.tls13 ? usableSession(config, session) : undefined;
  const offer: ClientHelloOffer = {
    ctx,
    config,
    random,
    sessionId,
    keyShares,
    session: usable,
    session12: versions.tls12 ? usableTls12Session(config, tls12Suites(config, versions), session12) : undefined,
    earlyData: earlyDataFor(config, usable),
  };
  return sendFirstClientHello(ctx, config, buildClientHello(offer, undefined));
}

/** A first ClientHello (its binder, if it offers a ticket, still zeros) and the secrets behind it. */
export type FirstClientHello = Pick<
  ClientHelloSent,
  'random' | 'sessionId' | 'keyShares' | 'session' | 'helloRaw' | 'offeredExtensions' | 'earlyData'
>;

/**
 * Sends a first ClientHello and waits for the ServerHello. The normal start
 * goes through here; a replay starts here with a recorded ClientHello
 * (RFC 8448) and the keys and ticket behind it.
 */
export function sendFirstClientHello(ctx: HandshakeContext, config: ClientConfig, hello: FirstClientHello): HandshakeState {
  if (hello.session !== undefined) fillBinder(ctx, hello.helloRaw, hello.session, undefined);
  ctx.sendHandshake(HandshakeType.client_hello, hello.helloRaw.subarray(4));
  if (hello.session !== undefined && hello.earlyData !== undefined)
    sendEarlyData(ctx, hello.helloRaw, hello.session, hello.earlyData, hello.random);
  return new ExpectServerHello({ ...hello, ctx, config }, undefined);
}

/** What a HelloRetryRequest fixed: the suite the ServerHello must keep (§4.1.4), and the transcript so far (§4.4.1). */
interface RetryRequested {
  readonly suite: number;
  readonly transcript: Transcript;
}

/** The PSK's hash, when the session's suite is one we know (usableSession kept only enabled suites). */
function sessionHash(session: ClientSession): SuiteInfo['hash'] | undefined {
  return suiteInfo(session.suite)?.hash;
}

class ExpectServerHello extends StateBase {
  readonly name = 'ExpectServerHello';

  constructor(
    private readonly sent: ClientHelloSent,
    private readonly retried: RetryRequested | undefined,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.server_hello, this.name);
    const sent = this.sent;
    const hello = decodeServerHello(message.body);
    if (negotiatedVersion(hello, sent.config) === 'TLSv1.2') return this.tls12(hello, message);
    // §4.1.3: the echo must be our own session id.
    if (!hello.legacySessionIdEcho.equals(sent.sessionId)) throw new TlsAlertError('illegal_parameter', 'legacy_session_id_echo differs');
    // §4.1.3: a suite we did not offer is illegal_parameter; after HRR it must not change (§4.1.4).
    const suite = sent.config.suites.includes(hello.cipherSuite) ? suiteInfo(hello.cipherSuite) : undefined;
    if (suite === undefined) throw new TlsAlertError('illegal_parameter', 'server chose a suite we did not offer');
    if (this.retried !== undefined && hello.cipherSuite !== this.retried.suite) {
      throw new TlsAlertError('illegal_parameter', 'suite changed after HelloRetryRequest');
    }
    if (isHelloRetryRequest(hello)) return this.retry(hello, message, suite);
    checkExtensionsAllowed(hello.extensions, 'server_hello', sent.offeredExtensions);
    const shareData = findExtension(hello.extensions, ExtensionType.key_share);
    if (shareData === undefined) throw new TlsAlertError('missing_extension', 'ServerHello without key_share');
    const share = decodeServerKeyShare(shareData);
    const exchange = sent.keyShares.find((k) => k.group === share.group);
    if (exchange === undefined) throw new TlsAlertError('illegal_parameter', 'server share for a group we did not send');
    const sharedSecret = exchange.computeSharedSecret(share.keyExchange);
    const resumed = acceptedSession(hello, sent.session, suite);
    const keys = this.handshakeKeys(
      message,
      suite,
      share.group,
      new EarlySecret(this.sent.ctx.provider, suite.hash, resumed?.psk).toHandshakeSecret(sharedSecret),
    );
    return new ExpectEncryptedExtensions(keys, resumed);
  }

  /** A TLS 1.2 ServerHello (client12/): never after a HelloRetryRequest, which only a TLS 1.3 server sends (§4.1.4). */
  private tls12(hello: ServerHello, message: HandshakeMessage): HandshakeState {
    if (this.retried !== undefined) throw new TlsAlertError('illegal_parameter', 'TLS 1.2 ServerHello after a HelloRetryRequest');
    const sent = this.sent;
    const versions = versionOffer(sent.config);
    const offer = { suites: tls12Suites(sent.config, versions), isTls13Offered: versions.tls13, session: sent.session12 };
    return acceptServerHello12(sent, offer, hello, message);
  }

  /** §7.1: the handshake traffic secrets over ClientHello..ServerHello; the server's flight is read under its own. */
  private handshakeKeys(
    message: HandshakeMessage,
    suite: SuiteInfo,
    group: number,
    handshakeSecret: ClientHandshakeKeys['handshakeSecret'],
  ): ClientHandshakeKeys {
    const { ctx, config, random, offeredExtensions, helloRaw } = this.sent;
    const transcript = this.retried?.transcript ?? new Transcript(ctx.provider, suite.hash);
    transcript.add(helloRaw);
    transcript.add(message.raw);
    const helloHash = transcript.current();
    const clientHandshakeSecret = handshakeSecret.clientHandshakeTrafficSecret(helloHash);
    const serverHandshakeSecret = handshakeSecret.serverHandshakeTrafficSecret(helloHash);
    ctx.logSecret('CLIENT_HANDSHAKE_TRAFFIC_SECRET', random, clientHandshakeSecret);
    ctx.logSecret('SERVER_HANDSHAKE_TRAFFIC_SECRET', random, serverHandshakeSecret);
    ctx.setReadKey(suite, serverHandshakeSecret);
    return {
      earlyData: this.sent.earlyData === undefined ? 'none' : 'offered',
      ctx,
      config,
      random,
      offeredExtensions,
      suite,
      group,
      transcript,
      handshakeSecret,
      clientHandshakeSecret,
      serverHandshakeSecret,
    };
  }

  /** §4.1.4: answer a HelloRetryRequest with a second ClientHello. */
  private retry(hrr: ServerHello, message: HandshakeMessage, suite: SuiteInfo): HandshakeState {
    const sent = this.sent;
    // §4.1.4: a second HelloRetryRequest is unexpected_message.
    if (this.retried !== undefined) throw new TlsAlertError('unexpected_message', 'second HelloRetryRequest');
    // §4.2.10: a HelloRetryRequest refuses our 0-RTT; it goes again after the handshake.
    if (sent.earlyData !== undefined) {
      sent.ctx.earlyData.note({ accepted: false, reason: 'hello_retry' });
      sent.ctx.earlyData.abandon();
    }
    checkExtensionsAllowed(hrr.extensions, 'hello_retry_request', sent.offeredExtensions);
    const groupData = findExtension(hrr.extensions, ExtensionType.key_share);
    const cookieData = findExtension(hrr.extensions, ExtensionType.cookie);
    // §4.1.4: an HRR that would not change the ClientHello is illegal_parameter.
    if (groupData === undefined && cookieData === undefined)
      throw new TlsAlertError('illegal_parameter', 'HelloRetryRequest changes nothing');
    let keyShares = sent.keyShares;
    if (groupData !== undefined) {
      const group = decodeU16(groupData, 'selected_group');
      if (!sent.config.groups.includes(group) || sent.keyShares.some((k) => k.group === group)) {
        throw new TlsAlertError('illegal_parameter', 'HelloRetryRequest names a group we did not offer or already sent');
      }
      keyShares = [sent.ctx.provider.generateKeyExchange(group)];
    }
    const cookie = cookieData === undefined ? undefined : decodeOpaque16(cookieData, 'cookie');
    const transcript = Transcript.afterRetry(sent.ctx.provider, suite.hash, sent.helloRaw);
    transcript.add(message.raw);
    // A session for another hash cannot be offered again (§4.1.4).
    const session = sent.session !== undefined && sessionHash(sent.session) === suite.hash ? sent.session : undefined;
    const { ctx, config, random, sessionId, session12 } = sent;
    const next: ClientHelloOffer = { ctx, config, random, sessionId, keyShares, session, session12 };
    const hello = buildClientHello(next, cookie);
    if (session !== undefined) fillBinder(ctx, hello.helloRaw, session, transcript);
    sent.ctx.sendChangeCipherSpec();
    sent.ctx.sendHandshake(HandshakeType.client_hello, hello.helloRaw.subarray(4));
    return new ExpectServerHello(hello, { suite: suite.id, transcript });
  }
}

/** §4.2.11: the session whose PSK the server selected; the index must be one we offered, and its hash the suite's. */
function acceptedSession(hello: ServerHello, session: ClientSession | undefined, suite: SuiteInfo): ClientSession | undefined {
  const pskData = findExtension(hello.extensions, ExtensionType.pre_shared_key);
  if (pskData === undefined) return undefined;
  const selected = decodeU16(pskData, 'selected_identity');
  // §4.2.11: the index must be one we offered, and the PSK's hash must match the suite.
  if (session === undefined || selected !== 0) throw new TlsAlertError('illegal_parameter', 'server selected a PSK we did not offer');
  if (sessionHash(session) !== suite.hash) throw new TlsAlertError('illegal_parameter', 'PSK hash differs from the suite hash');
  return session;
}

/**
 * §4.1.3: a TLS 1.3 server names 1.3 in supported_versions; without it the
 * server chose TLS 1.2 (§4.2.1), which we take if we offered it. With TLS
 * 1.3 only, a lower version is protocol_version, or illegal_parameter when
 * the downgrade sentinels say a 1.3 server was made to choose it.
 */
function negotiatedVersion(hello: ServerHello, config: ClientConfig): 'TLSv1.2' | 'TLSv1.3' {
  const versions = versionOffer(config);
  const versionData = findExtension(hello.extensions, ExtensionType.supported_versions);
  if (versionData === undefined) {
    if (versions.tls12) return 'TLSv1.2';
    const tail = hello.random.subarray(24);
    if (tail.equals(DOWNGRADE_TLS12) || tail.equals(DOWNGRADE_TLS11))
      throw new TlsAlertError('illegal_parameter', 'downgrade sentinel in ServerHello.random');
    throw new TlsAlertError('protocol_version', 'server does not speak TLS 1.3');
  }
  if (!versions.tls13 || decodeU16(versionData, 'selected_version') !== ProtocolVersion.TLS13)
    throw new TlsAlertError('illegal_parameter', 'server selected a version we did not offer');
  return 'TLSv1.3';
}
