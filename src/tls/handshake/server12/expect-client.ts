import { TlsAlertError } from '../../alert.js';
import { HandshakeType } from '../../codec/enums.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import { decodeCertificateVerify } from '../../codec/messages/certificate-verify.js';
import { decodeCertificate12 } from '../../codec/messages/tls12/certificate.js';
import { decodeClientKeyExchange } from '../../codec/messages/tls12/client-key-exchange.js';
import type { KeyExchange } from '../../crypto/provider.js';
import { TLS12_SCHEMES } from '../../crypto/signatures.js';
import { extendedMasterSecret, tls12KeyBlock } from '../../keyschedule/prf12.js';
import { Protector12 } from '../../record/protector12.js';
import { runPeerPolicy, verifyPeerChain, verifyPeerSignature12, type ChainVerified } from '../peer.js';
import { requireMessage, StateBase, type HandshakeState } from '../state.js';
import { ExpectClientFinished12 } from './finish.js';
import type { ClientIdentity12, Keyed12, Negotiated12 } from './negotiated.js';

const ANONYMOUS: ClientIdentity12 = { kind: 'anonymous' };

/** RFC 5246 §7.1: the client's ChangeCipherSpec comes next and installs its write keys as our read state. */
function awaitClientFinished(keyed: Keyed12, identity: ClientIdentity12): HandshakeState {
  const { ctx, suite } = keyed.n;
  ctx.expectChangeCipherSpec(new Protector12(ctx.provider, suite, keyed.keys.client));
  return new ExpectClientFinished12(keyed, identity);
}

/** §7.4.6: the client's Certificate, answering our CertificateRequest. */
export class ExpectClientCertificate12 extends StateBase {
  readonly name = 'ExpectClientCertificate12';

  constructor(
    private readonly n: Negotiated12,
    private readonly exchange: KeyExchange,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.certificate, this.name);
    const { config, log } = this.n;
    const { chain } = decodeCertificate12(message.body);
    log.add(message.raw);
    if (chain.length === 0) {
      // §7.4.6: a server that requires a certificate MAY answer an empty one with a fatal handshake_failure
      // (TLS 1.3's certificate_required does not exist in TLS 1.2).
      if (config.clientAuth === 'require') throw new TlsAlertError('handshake_failure', 'client sent no certificate');
      return new ExpectClientKeyExchange12(this.n, this.exchange, undefined);
    }
    return new ExpectClientKeyExchange12(this.n, this.exchange, verifyPeerChain(config.verifier, chain, { role: 'client' }));
  }
}

/** §7.4.7, RFC 8422 §5.7: the client's ECDHE point; then the extended master secret and the key block. */
export class ExpectClientKeyExchange12 extends StateBase {
  readonly name = 'ExpectClientKeyExchange12';

  constructor(
    private readonly n: Negotiated12,
    private readonly exchange: KeyExchange,
    private readonly chain: ChainVerified | undefined,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.client_key_exchange, this.name);
    const { ctx, suite, log, offer, serverRandom } = this.n;
    const { publicKey } = decodeClientKeyExchange(message.body);
    // RFC 8422 §5.10: the premaster secret is the x-coordinate (or the X25519 output); a bad point is illegal_parameter.
    const preMasterSecret = this.exchange.computeSharedSecret(publicKey);
    log.add(message.raw);
    // RFC 7627 §4: the session hash covers the messages up to and including ClientKeyExchange.
    const masterSecret = extendedMasterSecret(ctx.provider, suite.hash, preMasterSecret, log.hash(suite.hash));
    ctx.logSecret('CLIENT_RANDOM', offer.hello.random, masterSecret);
    const keys = tls12KeyBlock(ctx.provider, suite, masterSecret, offer.hello.random, serverRandom);
    const keyed: Keyed12 = { n: this.n, masterSecret, keys, group: this.exchange.group };
    return this.chain === undefined ? awaitClientFinished(keyed, ANONYMOUS) : new ExpectCertificateVerify12(keyed, this.chain);
  }
}

/** §7.4.8: the client's signature over the handshake messages so far proves it holds the certificate's key. */
class ExpectCertificateVerify12 extends StateBase {
  readonly name = 'ExpectCertificateVerify12';

  constructor(
    private readonly keyed: Keyed12,
    private readonly chain: ChainVerified,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.certificate_verify, this.name);
    const { ctx, config, log } = this.keyed.n;
    const verify = decodeCertificateVerify(message.body);
    const signature = verifyPeerSignature12(ctx.provider, TLS12_SCHEMES, verify, this.chain.chain, log.bytes());
    log.add(message.raw);
    runPeerPolicy(config.verifyPeer, signature.peer);
    return awaitClientFinished(this.keyed, { kind: 'certificate', signature });
  }
}
