import { TlsAlertError } from '../../alert.js';
import { ExtensionType, HandshakeType } from '../../codec/enums.js';
import {
  checkExtensionsAllowed,
  decodeCertificateStatus,
  decodeU16List,
  expectEmptyExtension,
  findExtension,
} from '../../codec/extensions.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import { decodeCertificate, type CertificateEntry } from '../../codec/messages/certificate.js';
import { decodeCertificateRequest } from '../../codec/messages/certificate-request.js';
import { decodeCertificateVerify } from '../../codec/messages/certificate-verify.js';
import { decodeEncryptedExtensions } from '../../codec/messages/encrypted-extensions.js';
import { certificateVerifyContent, VERIFY_SCHEMES } from '../../crypto/signatures.js';
import type { ClientSession } from '../../tickets.js';
import { runPeerPolicy, runStaplePolicy, verifyPeerSignature } from '../peer.js';
import { requireMessage, StateBase, type HandshakeState } from '../state.js';
import { ExpectFinished } from './finished.js';
import {
  chainOf,
  checkServerChain,
  chosenAlpn,
  type CertificateRequested,
  type ClientHandshakeKeys,
  type ServerChain,
} from './negotiated.js';

/** §4.3.1: the server's EncryptedExtensions; the ALPN protocol it chose is settled here. */
export class ExpectEncryptedExtensions extends StateBase {
  readonly name = 'ExpectEncryptedExtensions';

  /** `resumed`: the session whose PSK the ServerHello accepted; the server then sends no Certificate. */
  constructor(
    private readonly keys: ClientHandshakeKeys,
    private readonly resumed: ClientSession | undefined,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.encrypted_extensions, this.name);
    const keys = this.keys;
    const extensions = decodeEncryptedExtensions(message.body);
    checkExtensionsAllowed(extensions, 'encrypted_extensions', keys.offeredExtensions);
    const alpn = chosenAlpn(keys.config, findExtension(extensions, ExtensionType.application_layer_protocol_negotiation));
    keys.transcript.add(message.raw);
    const settled = settleEarlyData(keys, extensions, this.resumed, alpn);
    if (this.resumed !== undefined) return new ExpectFinished(settled, alpn, { kind: 'resumed', session: this.resumed });
    return new ExpectCertificateOrRequest(settled, alpn);
  }
}

/**
 * §4.2.10: early_data in EncryptedExtensions accepts our 0-RTT (we offered
 * it: checkExtensionsAllowed refuses it otherwise); the server must then
 * have resumed our session with its suite and ALPN protocol.
 */
function settleEarlyData(
  keys: ClientHandshakeKeys,
  extensions: readonly { type: number; data: Buffer }[],
  resumed: ClientSession | undefined,
  alpn: string | false,
): ClientHandshakeKeys {
  const data = findExtension(extensions, ExtensionType.early_data);
  if (keys.earlyData === 'none') return keys;
  if (data === undefined) {
    keys.ctx.earlyData.note({ accepted: false, reason: 'refused_by_server' });
    return keys;
  }
  expectEmptyExtension(data, 'early_data');
  if (resumed === undefined || resumed.suite !== keys.suite.id || resumed.alpn !== (alpn === false ? '' : alpn)) {
    throw new TlsAlertError('illegal_parameter', 'early data accepted without resuming the session, its suite and its ALPN');
  }
  keys.ctx.earlyData.note({ accepted: true });
  return { ...keys, earlyData: 'accepted' };
}

class ExpectCertificateOrRequest extends StateBase {
  readonly name = 'ExpectCertificateOrCertificateRequest';

  constructor(
    private readonly keys: ClientHandshakeKeys,
    private readonly alpn: string | false,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    if (message.type === HandshakeType.certificate) return new ExpectCertificate(this.keys, this.alpn, undefined).handle(message);
    requireMessage(message, HandshakeType.certificate_request, this.name);
    const request = decodeCertificateRequest(message.body);
    // §4.3.2: empty context during the handshake.
    if (request.requestContext.length !== 0) throw new TlsAlertError('illegal_parameter', 'certificate_request_context is not empty');
    checkExtensionsAllowed(request.extensions, 'certificate_request');
    const algs = findExtension(request.extensions, ExtensionType.signature_algorithms);
    // §4.3.2: signature_algorithms MUST be present.
    if (algs === undefined) throw new TlsAlertError('missing_extension', 'CertificateRequest without signature_algorithms');
    const requested: CertificateRequested = { schemes: decodeU16List(algs, 'signature_algorithms', 2) };
    this.keys.transcript.add(message.raw);
    return new ExpectCertificate(this.keys, this.alpn, requested);
  }
}

/** §4.4.2: the server's chain, verified unless the caller turned that off. */
class ExpectCertificate extends StateBase {
  readonly name = 'ExpectCertificate';

  constructor(
    private readonly keys: ClientHandshakeKeys,
    private readonly alpn: string | false,
    private readonly request: CertificateRequested | undefined,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.certificate, this.name);
    const keys = this.keys;
    const certificate = decodeCertificate(message.body);
    if (certificate.requestContext.length !== 0)
      throw new TlsAlertError('illegal_parameter', 'server certificate_request_context is not empty');
    for (const entry of certificate.entries) checkExtensionsAllowed(entry.extensions, 'certificate', keys.offeredExtensions);
    // §4.4.2.4: an empty server Certificate is decode_error.
    if (certificate.entries.length === 0) throw new TlsAlertError('decode_error', 'server sent no certificate');
    const config = keys.config;
    // Without our status_request, the check above already refused any staple.
    const ocspResponse = config.requestOcspStaple ? readStaple(certificate.entries) : undefined;
    const chain = certificate.entries.map((e) => e.certData);
    const server = checkServerChain(config, chain);
    keys.transcript.add(message.raw);
    return new ExpectCertificateVerify(keys, this.alpn, this.request, server, ocspResponse);
  }
}

/**
 * RFC 8446 §4.4.2.1: the server's OCSP response sits in the CertificateEntry
 * of the certificate it is about; we take the leaf's. A status_request on
 * another entry is checked for shape and not used.
 */
function readStaple(entries: readonly CertificateEntry[]): Buffer | undefined {
  let leafStaple: Buffer | undefined;
  for (const [index, entry] of entries.entries()) {
    const data = findExtension(entry.extensions, ExtensionType.status_request);
    if (data === undefined) continue;
    const status = decodeCertificateStatus(data);
    // A copy: the received record stays collectable while the socket keeps the staple.
    if (index === 0) leafStaple = Buffer.from(status.ocspResponse);
  }
  return leafStaple;
}

/** §4.4.3: proof that the server holds its leaf's key; then the caller's policy on a verified chain and its staple. */
class ExpectCertificateVerify extends StateBase {
  readonly name = 'ExpectCertificateVerify';

  constructor(
    private readonly keys: ClientHandshakeKeys,
    private readonly alpn: string | false,
    private readonly request: CertificateRequested | undefined,
    private readonly server: ServerChain,
    private readonly ocspResponse: Buffer | undefined,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.certificate_verify, this.name);
    const { keys, server } = this;
    const chain = chainOf(server);
    const content = certificateVerifyContent('server', keys.transcript.current());
    const signature = verifyPeerSignature(keys.ctx.provider, VERIFY_SCHEMES, decodeCertificateVerify(message.body), chain, content);
    keys.transcript.add(message.raw);
    // The hooks judge a verified chain; with verification off (rejectUnauthorized: false) there is none to judge.
    if (server.kind === 'verified') {
      runPeerPolicy(keys.config.verifyPeer, signature.peer);
      runStaplePolicy(keys.config.verifyOcspStaple, this.ocspResponse, signature.peer);
    }
    return new ExpectFinished(keys, this.alpn, { kind: 'certificate', signature, request: this.request, ocspResponse: this.ocspResponse });
  }
}
