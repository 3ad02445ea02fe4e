/*
 * dns/ — the one resolver every lookup goes through (ARCHITECTURE "Shared services").
 *
 * createResolver(config.dns) → DnsResolver: mx/a/aaaa/txt/ptr and a generic resolve(name, rrtype)
 * with node:dns/promises result shapes and error codes, a deadline on every call, a bounded
 * positive/negative cache and cache statistics for metrics. Other folders import only this file.
 */
export { createResolver, toNodeServer, type DnsCacheStats, type DnsConfig, type DnsError, type DnsResolver, type ResolveFn, type ResolverOptions } from './resolver.js';
export { reverseName } from './arpa.js';
