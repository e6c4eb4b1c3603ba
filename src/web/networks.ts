import ipaddr from 'ipaddr.js'

/**
 * The client as the per-address limits count it: an IPv4 address alone, an
 * IPv6 address by its /64, which a home or a host is given whole (counted
 * address by address, one machine would have billions of tries). An IPv4
 * address written as IPv6 (`::ffff:203.0.113.7`) counts as itself. The same
 * grouping as @fastify/rate-limit's.
 */
export function networkOf (ip: string | undefined): string {
  if (ip === undefined) return ''
  if (!ipaddr.isValid(ip)) return ip
  const address = ipaddr.process(ip)
  if (address.kind() === 'ipv4') return address.toString()
  const prefix = (address as ipaddr.IPv6).parts.slice(0, 4)
  return `${new ipaddr.IPv6([...prefix, 0, 0, 0, 0]).toString()}/64`
}
