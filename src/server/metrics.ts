// Prometheus text of an index server's counts through prom-client, built at scrape time from plain integers.
import { Registry } from 'prom-client';
import type { IndexServer } from './index-server';
import { DURATION_BOUNDS, DurationBuckets } from './traffic-counts';

type Labels = Record<string, string>;
type Sample = { value: number; labels?: Labels; metricName?: string };

/**
 * One metric read from the server when scraped. prom-client's registry formats any object with a
 * name, help, type and get(); nothing is touched per datagram.
 */
function metric(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', read: () => Sample[]): object {
  return { name, help, type, aggregator: 'sum', get: () => ({ name, help, type, aggregator: 'sum', values: read() }), reset: () => undefined };
}

function histogram(name: string, d: DurationBuckets): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  DURATION_BOUNDS.forEach((le, i) => {
    cumulative += d.counts[i];
    out.push({ metricName: `${name}_bucket`, labels: { le: String(le) }, value: cumulative });
  });
  out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: d.total });
  out.push({ metricName: `${name}_sum`, value: d.sum });
  out.push({ metricName: `${name}_count`, value: d.total });
  return out;
}

/** A registry whose every metric reads `server` at scrape time. */
export function serverMetrics(server: IndexServer): Registry {
  const registry = new Registry();
  const add = (m: object): void => registry.registerMetric(m as Parameters<Registry['registerMetric']>[0]);
  const counter = (name: string, help: string, read: () => number): void => add(metric(name, help, 'counter', () => [{ value: read() }]));
  const gauge = (name: string, help: string, read: () => number): void => add(metric(name, help, 'gauge', () => [{ value: read() }]));

  add(metric('p2p_index_requests_total', 'Requests answered or dropped, by PDU type and result (reply type, error code or dropped).', 'counter',
    () => server.traffic.requests.map((r) => ({ labels: { type: r.type, result: r.result }, value: r.n }))));
  gauge('p2p_index_entries', 'Registrations held.', () => server.population.entries);
  gauge('p2p_index_peers', 'Distinct peer names with a registration.', () => server.population.peers);
  gauge('p2p_index_contents', 'Distinct content names registered.', () => server.population.contents);
  counter('p2p_index_datagrams_total', 'Datagrams received.', () => server.stats.datagrams);
  counter('p2p_index_dropped_total', 'Datagrams dropped without a reply.', () => server.stats.dropped);
  counter('p2p_index_expired_total', 'Registrations whose lease ended.', () => server.stats.expired);
  counter('p2p_index_rate_limited_total', 'Datagrams over a source address\'s rate limit.', () => server.stats.rateLimited);
  counter('p2p_index_cookie_failures_total', 'Requests refused for a missing, stale or forged handshake cookie.', () => server.stats.badCookies);
  counter('p2p_index_retries_total', 'Retried R/T answered from the reply cache or already in flight.', () => server.stats.retries);
  counter('p2p_index_internal_errors_total', 'Datagrams that hit a bug (answered E INTERNAL and logged).', () => server.stats.internalErrors);
  counter('p2p_index_received_bytes_total', 'Bytes of datagrams received.', () => server.stats.bytesIn);
  counter('p2p_index_sent_bytes_total', 'Bytes of replies sent.', () => server.stats.bytesOut);
  add(metric('p2p_index_request_duration_seconds', 'Time to handle one datagram (a shared store\'s round trip excluded).', 'histogram',
    () => histogram('p2p_index_request_duration_seconds', server.traffic.duration)));
  if (server.registry.shared) {
    counter('p2p_index_store_errors_total', 'Writes the shared store could not carry out.', () => server.stats.storeErrors);
    gauge('p2p_index_store_up', '1 while the shared store is reachable.', () => (server.storeReachable ? 1 : 0));
    add(metric('p2p_index_store_latency_seconds', 'Round trip of a write to the shared store.', 'histogram',
      () => histogram('p2p_index_store_latency_seconds', server.traffic.storeLatency)));
  }
  return registry;
}
