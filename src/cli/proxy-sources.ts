import { BlockList, isIPv4 } from 'node:net';

/**
 * The listener's PROXY protocol sources (config `proxyProtocolFrom`) as the
 * predicate the TLS server asks per connection. node:net's BlockList does the
 * CIDR matching, IPv4-mapped IPv6 peers included.
 */
export function proxyProtocolSources(cidrs: readonly string[]): ((remoteAddress: string) => boolean) | undefined {
  if (cidrs.length === 0) return undefined;
  const sources = new BlockList();
  for (const cidr of cidrs) {
    const slash = cidr.lastIndexOf('/');
    const address = cidr.slice(0, slash);
    sources.addSubnet(address, Number(cidr.slice(slash + 1)), isIPv4(address) ? 'ipv4' : 'ipv6');
  }
  return (remoteAddress) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress)?.[1];
    const address = mapped ?? remoteAddress;
    return address !== '' && sources.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  };
}
