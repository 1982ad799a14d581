import { TlsAlertError } from '../../alert.js';
import { HandshakeType } from '../../codec/enums.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import { decodeCertificate12 } from '../../codec/messages/tls12/certificate.js';
import { decodeCertificateRequest12 } from '../../codec/messages/tls12/certificate-request.js';
import { decodeCertificateStatus } from '../../codec/status-request.js';
import { decodeServerHelloDone } from '../../codec/messages/tls12/empty-and-finished.js';
import { decodeServerKeyExchange, serverKeyExchangeSignedContent } from '../../codec/messages/tls12/server-key-exchange.js';
import { isFfdheGroup } from '../../crypto/ffdhe.js';
import { TLS12_SCHEMES } from '../../crypto/signatures.js';
import { tls12AuthOf } from '../../crypto/suites.js';
import { runPeerPolicy, runStaplePolicy, verifyPeerSignature12 } from '../peer.js';
import { requireMessage, type HandshakeState } from '../state.js';
import { ClientState12 } from './state12.js';
import { chainOf, checkServerChain, type ServerChain } from '../client/negotiated.js';
import { sendClientFlight12 } from './flight12.js';
import type { CertificateRequested12, Server12Identity, Tls12Negotiated } from './negotiated12.js';

/** RFC 5246 §7.4.2: the server's chain, verified unless the caller turned that off, holding a key the suite can use. */
export class ExpectCertificate12 extends ClientState12 {
  readonly name = 'ExpectCertificate12';

  constructor(private readonly hello: Tls12Negotiated) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.certificate, this.name);
    const { config, suite } = this.hello;
    const { chain } = decodeCertificate12(message.body);
    // RFC 5246 §7.4.2: the server's certificate_list is never empty here (its suites all authenticate it).
    if (chain.length === 0) throw new TlsAlertError('decode_error', 'server sent no certificate');
    const server = checkServerChain(config, chain);
    const keyType = chainOf(server).leafPublicKey.asymmetricKeyType;
    // RFC 8422 §2, §5.3: ECDHE_ECDSA needs an ECDSA (or EdDSA) key, ECDHE_RSA an RSA key.
    if (tls12AuthOf(keyType) !== suite.auth)
      throw new TlsAlertError('unsupported_certificate', `a ${keyType ?? 'unknown'} key cannot serve ${suite.name}`);
    this.hello.log.add(message.raw);
    return new ExpectStatusOrKeyExchange12(this.hello, server);
  }
}

/**
 * RFC 6066 §8: after echoing status_request the server MAY send
 * CertificateStatus; then (or at once) its ServerKeyExchange.
 */
class ExpectStatusOrKeyExchange12 extends ClientState12 {
  readonly name = 'ExpectCertificateStatusOrServerKeyExchange12';

  constructor(
    private readonly hello: Tls12Negotiated,
    private readonly server: ServerChain,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    if (message.type !== HandshakeType.certificate_status || !this.hello.isStatusExpected)
      return new ExpectServerKeyExchange12(this.hello, this.server, undefined).handle(message);
    const status = decodeCertificateStatus(message.body);
    this.hello.log.add(message.raw);
    // A copy: the received record stays collectable while the socket keeps the staple.
    return new ExpectServerKeyExchange12(this.hello, this.server, Buffer.from(status.ocspResponse));
  }
}

/**
 * RFC 5246 §7.4.3, RFC 8422 §5.4: the server's ephemeral key on a group we
 * offered, signed with its leaf key over both randoms and the params. Then
 * the caller's policy on the verified chain and its staple, as in TLS 1.3.
 */
class ExpectServerKeyExchange12 extends ClientState12 {
  readonly name = 'ExpectServerKeyExchange12';

  constructor(
    private readonly hello: Tls12Negotiated,
    private readonly server: ServerChain,
    private readonly ocspResponse: Buffer | undefined,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.server_key_exchange, this.name);
    const { hello, server } = this;
    const exchange = decodeServerKeyExchange(message.body);
    const group = exchange.params.namedCurve;
    // RFC 8422 §5.4: a curve we did not offer in supported_groups is illegal_parameter (and an ECDHE suite takes no ffdhe group).
    if (!hello.config.groups.includes(group) || isFfdheGroup(group))
      throw new TlsAlertError('illegal_parameter', `ServerKeyExchange on group 0x${group.toString(16)} we did not offer`);
    const chain = chainOf(server);
    const content = serverKeyExchangeSignedContent(hello.clientRandom, hello.serverRandom, exchange.params);
    const signature = verifyPeerSignature12(hello.ctx.provider, TLS12_SCHEMES, exchange, chain, content);
    hello.log.add(message.raw);
    if (server.kind === 'verified') {
      runPeerPolicy(hello.config.verifyPeer, signature.peer);
      runStaplePolicy(hello.config.verifyOcspStaple, this.ocspResponse, signature.peer);
    }
    const identity: Server12Identity = { kind: 'certificate', signature, group, ocspResponse: this.ocspResponse };
    return new ExpectRequestOrDone12(hello, identity, exchange.params.publicKey);
  }
}

/** RFC 5246 §7.4.4-7.4.5: a CertificateRequest, or at once ServerHelloDone. */
class ExpectRequestOrDone12 extends ClientState12 {
  readonly name = 'ExpectCertificateRequestOrServerHelloDone12';

  constructor(
    private readonly hello: Tls12Negotiated,
    private readonly identity: Server12Identity & { readonly kind: 'certificate' },
    private readonly serverShare: Buffer,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    if (message.type === HandshakeType.server_hello_done)
      return new ExpectServerHelloDone12(this.hello, this.identity, this.serverShare, undefined).handle(message);
    requireMessage(message, HandshakeType.certificate_request, this.name);
    const request = decodeCertificateRequest12(message.body);
    this.hello.log.add(message.raw);
    const requested: CertificateRequested12 = { certificateTypes: request.certificateTypes, schemes: request.signatureAlgorithms };
    return new ExpectServerHelloDone12(this.hello, this.identity, this.serverShare, requested);
  }
}

/** RFC 5246 §7.4.5: the server's flight is over; ours follows (sendClientFlight12). */
class ExpectServerHelloDone12 extends ClientState12 {
  readonly name = 'ExpectServerHelloDone12';

  constructor(
    private readonly hello: Tls12Negotiated,
    private readonly identity: Server12Identity & { readonly kind: 'certificate' },
    private readonly serverShare: Buffer,
    private readonly request: CertificateRequested12 | undefined,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.server_hello_done, this.name);
    decodeServerHelloDone(message.body);
    this.hello.log.add(message.raw);
    return sendClientFlight12(this.hello, this.identity, this.serverShare, this.request);
  }
}
