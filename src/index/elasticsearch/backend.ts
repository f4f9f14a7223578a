// The Elasticsearch backend: the same Backend contract as the embedded one (test/contract), on an
// Elasticsearch 8.x/9.x cluster. Only features every such cluster has are used: dense_vector (int8_hnsw,
// dot_product) in nested image docs, the knn search section with its filter inside, the built-in whitespace
// analyzer, bulk/mget/search_after, aliases with atomic swaps, index settings, refresh and forcemerge.
// No scripts, no RRF (fusion is ours: components/fusion.ts), no reindex, no analysis plugins.
//
// Reads and writes name the alias `<index>`; data lives in `<index>_v<N>` (see versions.ts); `rebuild`
// fills `<index>_v<N+1>` and swaps the alias. Writes use refresh=wait_for: an acknowledged write is
// searchable, and durable (translog fsync per request, the ES default).
import type { Client, estypes } from '@elastic/elasticsearch';
import { AppError } from '../../errors.ts';
import {
  DEFAULT_TEXT_DIMS,
  type Backend,
  type Hit,
  type IndexRecord,
  type RebuildContext,
  type RebuildOptions,
  type RebuildResult,
  type SearchOptions,
  type UpsertResult,
  type WriteRecords,
} from '../backend.ts';
import { backoffMs, esErrorType, isTransient, itemError, makeClient, sleep, toAppError, type EsConnectionOptions } from './client.ts';
import { FILTER_FIELDS, fromB64, fromSource, metaMapping, productMapping, textVectorProperties, toDoc, type EsDoc } from './mapping.ts';
import { cosineFromScore, defaultNumCandidates, ES_MAX_K, filterClauses, knnBody, knnTextBody, textBody } from './queries.ts';
import { dot } from '../../vision/pooling.ts';
import { aliasTargets, IndexNames, listVersions } from './versions.ts';

export interface ElasticsearchOptions extends EsConnectionOptions {
  /** alias name; physical indices are `<index>_v<N>`, meta lives in `<index>_meta` */
  index: string;
  dims: number;
  /** dimensions of the text vectors (default DEFAULT_TEXT_DIMS) */
  textDims?: number;
  /** kNN num_candidates: a number (at least k is always used) or a function of k; default max(100, 4k) */
  numCandidates?: number | ((k: number) => number);
  /**
   * Re-score kNN candidates exactly on our side from the stored float32 vectors (default true): int8
   * quantised scores are approximate, exact ones equal the embedded backend's to the last bit.
   */
  exactRescore?: boolean;
  /** with exactRescore, ask ES for this many times k candidates (default 1.5, at least k + 10) */
  oversample?: number;
  shards?: number;
  /** replicas of a new index (default: the cluster's default) */
  replicas?: number;
  /** explicit, so that search-idle shards still refresh and refresh=wait_for never waits on a search */
  refreshInterval?: string;
  /** bounded retries with exponential backoff of bulk writes on 429 / connection errors (default 3, from 100 ms) */
  writeRetries?: number;
  writeBackoffMs?: number;
  writeTimeoutMs?: number;
  adminTimeoutMs?: number;
  log?: (s: string) => void;
}

type Source = Omit<EsDoc, 'images' | 'text_vector'> & { images?: Array<Omit<EsDoc['images'][number], 'vector'>> };

/** State of a running rebuild: the target index and the queue that orders its writes. */
class Rebuilding {
  /** ids upserted/deleted live during the rebuild: their live version is newer than the build's */
  readonly touched = new Set<string>();
  /** meta keys the build set itself (a live setMeta does not overwrite them in the new index) */
  readonly metaKeys = new Set<string>();
  mirrorError: unknown = null;
  written = 0;
  failed = 0;
  superseded = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly index: string) {}

  /** Runs fn after everything queued before it: build batches and live mirrors never overtake each other. */
  enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  drain(): Promise<unknown> {
    return this.chain;
  }
}

export class ElasticsearchBackend implements Backend {
  readonly kind = 'elasticsearch' as const;
  readonly names: IndexNames;
  private readonly es: Client;
  private readonly readTimeout: number;
  private readonly writeTimeout: number;
  private readonly adminTimeout: number;
  private readonly log: (s: string) => void;
  private building: Rebuilding | null = null;
  /** live writes in flight: a rebuild waits for those that may have hit the old index before its swap */
  private inflight = new Set<Promise<unknown>>();

  constructor(private readonly opts: ElasticsearchOptions) {
    this.names = new IndexNames(opts.index);
    this.readTimeout = opts.requestTimeoutMs ?? 5_000;
    this.writeTimeout = opts.writeTimeoutMs ?? 30_000;
    this.adminTimeout = opts.adminTimeoutMs ?? 10 * 60_000;
    this.log = opts.log ?? (() => {});
    this.es = makeClient({ ...opts, requestTimeoutMs: this.readTimeout });
  }

  /** The raw client, for operators and tests. */
  get client(): Client {
    return this.es;
  }

  /** kNN num_candidates for a given k (the bench tunes this through the options). */
  numCandidates(k: number): number {
    const n = this.opts.numCandidates;
    const v = n === undefined ? defaultNumCandidates(k) : typeof n === 'number' ? n : n(k);
    return Math.min(ES_MAX_K, Math.max(k, Math.ceil(v)));
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw toAppError(e, what);
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  // ------------------------------------------------------------------ lifecycle

  async init(): Promise<void> {
    await this.call('init', async () => {
      const targets = await aliasTargets(this.es, this.names, this.readTimeout);
      if (targets.length === 0) {
        if (await this.es.indices.exists({ index: this.names.alias }, { requestTimeout: this.readTimeout }))
          throw new AppError('internal', `Elasticsearch has a concrete index named "${this.names.alias}"; it must be free for the alias`);
        // a crash between creating a version and pointing the alias at it leaves the index: adopt the newest
        const versions = await listVersions(this.es, this.names, this.readTimeout);
        const target = versions.length ? versions[versions.length - 1].name : this.names.physical(1);
        if (!versions.length) await this.createIndex(target, false);
        await this.es.indices.updateAliases({ actions: [{ add: { index: target, alias: this.names.alias } }] }, { requestTimeout: this.adminTimeout });
        this.log(`elasticsearch: created alias ${this.names.alias} → ${target}`);
      } else if (targets.length > 1) {
        throw new AppError('internal', `the alias ${this.names.alias} points at several indices: ${targets.join(', ')}`);
      } else {
        // an index made by an older release: add the fields introduced since (a no-op when it has them)
        const { properties } = productMapping(this.opts.dims, this.opts.textDims ?? DEFAULT_TEXT_DIMS);
        await this.es.indices.putMapping(
          {
            index: targets[0],
            properties: { ...textVectorProperties(this.opts.textDims ?? DEFAULT_TEXT_DIMS), extras: properties!.extras, sourceGroupId: properties!.sourceGroupId, listedAt: properties!.listedAt },
          },
          { requestTimeout: this.adminTimeout },
        );
      }
      await this.ensureMetaIndex();
    });
  }

  async close(): Promise<void> {
    await this.es.close();
  }

  private async createIndex(name: string, building: boolean): Promise<void> {
    const settings: estypes.IndicesIndexSettings = {
      number_of_shards: this.opts.shards ?? 1,
      refresh_interval: building ? '-1' : (this.opts.refreshInterval ?? '1s'),
    };
    if (building) settings.number_of_replicas = 0;
    else if (this.opts.replicas !== undefined) settings.number_of_replicas = this.opts.replicas;
    try {
      await this.es.indices.create(
        { index: name, settings, mappings: productMapping(this.opts.dims, this.opts.textDims ?? DEFAULT_TEXT_DIMS), wait_for_active_shards: 1 },
        { requestTimeout: this.adminTimeout },
      );
    } catch (e) {
      if (esErrorType(e) !== 'resource_already_exists_exception') throw e;
    }
  }

  private async ensureMetaIndex(): Promise<void> {
    if (await this.es.indices.exists({ index: this.names.meta }, { requestTimeout: this.readTimeout })) return;
    try {
      await this.es.indices.create(
        {
          index: this.names.meta,
          settings: { number_of_shards: 1, ...(this.opts.replicas !== undefined ? { number_of_replicas: this.opts.replicas } : {}) },
          mappings: metaMapping(),
          wait_for_active_shards: 1,
        },
        { requestTimeout: this.adminTimeout },
      );
    } catch (e) {
      if (esErrorType(e) !== 'resource_already_exists_exception') throw e;
    }
  }

  /** The physical index the alias points at now. */
  async currentIndex(): Promise<string> {
    return this.call('resolve alias', async () => {
      const t = await aliasTargets(this.es, this.names, this.readTimeout);
      if (t.length !== 1) throw new AppError('backend_unavailable', `the alias ${this.names.alias} points at ${t.length} indices; was the backend initialised?`);
      return t[0];
    });
  }

  async indexExists(name: string): Promise<boolean> {
    return this.call('exists', () => this.es.indices.exists({ index: name }, { requestTimeout: this.readTimeout }));
  }

  /** Deletes every index and meta document of this backend (tests, operators). */
  async drop(): Promise<void> {
    await this.call('drop', async () => {
      const versions = await listVersions(this.es, this.names, this.readTimeout);
      for (const v of versions) await this.es.indices.delete({ index: v.name }, { ignore: [404], requestTimeout: this.adminTimeout });
      await this.es.indices.delete({ index: this.names.meta }, { ignore: [404], requestTimeout: this.adminTimeout });
    });
  }

  // ------------------------------------------------------------------ writes

  /**
   * Bulk-indexes records into `index` (the alias or a physical index). Per-item failures come back as
   * results; 429s (per item or for the whole request) and connection errors are retried with bounded
   * exponential backoff; when retries run out on a whole-request failure, this throws.
   */
  private async bulkIndex(index: string, records: IndexRecord[], refresh: 'wait_for' | false): Promise<UpsertResult[]> {
    const docs = records.map(toDoc);
    const out: Array<UpsertResult | undefined> = new Array(records.length);
    const retries = this.opts.writeRetries ?? 3;
    const base = this.opts.writeBackoffMs ?? 100;
    let pending = records.map((_, i) => i);
    for (let attempt = 0; pending.length; attempt++) {
      let resp: estypes.BulkResponse;
      try {
        resp = await this.es.bulk(
          { index, refresh, operations: pending.flatMap((i) => [{ index: { _id: records[i].product.id } }, docs[i]]) },
          // the retries are ours (below), with backoff bounded so that a dead cluster still fails fast
          { requestTimeout: this.writeTimeout, maxRetries: 0 },
        );
      } catch (e) {
        if (isTransient(e) && attempt < retries) {
          await sleep(backoffMs(attempt, base));
          continue;
        }
        throw toAppError(e, 'bulk write');
      }
      const again: number[] = [];
      resp.items.forEach((item, j) => {
        const i = pending[j];
        const op = item.index!;
        const id = records[i].product.id;
        if (!op.error) out[i] = { id, ok: true };
        else if (op.status === 429 && attempt < retries) again.push(i);
        else
          out[i] = {
            id,
            ok: false,
            code: op.status === 429 || op.status >= 500 ? 'backend_unavailable' : op.status >= 400 && op.status < 500 ? 'invalid_request' : 'internal',
            message: `${op.error.type}: ${op.error.reason ?? ''}`.slice(0, 500),
          };
      });
      pending = again;
      if (pending.length) await sleep(backoffMs(attempt, base));
    }
    return out as UpsertResult[];
  }

  async upsert(records: IndexRecord[]): Promise<UpsertResult[]> {
    if (!records.length) return [];
    return this.track(
      (async () => {
        const results = await this.bulkIndex(this.names.alias, records, 'wait_for');
        const st = this.building;
        if (st) {
          const ok = new Set(results.filter((r) => r.ok).map((r) => r.id));
          const last = new Map(records.filter((r) => ok.has(r.product.id)).map((r) => [r.product.id, r]));
          if (last.size) await this.mirror(st, [...last.keys()], () => this.bulkIndex(st.index, [...last.values()], false));
        }
        return results;
      })(),
    );
  }

  async delete(id: string): Promise<boolean> {
    return this.track(
      this.call('delete', async () => {
        const r = (await this.es.delete(
          { index: this.names.alias, id, refresh: 'wait_for' },
          { ignore: [404], requestTimeout: this.writeTimeout },
        )) as estypes.DeleteResponse & { error?: { type?: string } };
        if (r.error?.type === 'index_not_found_exception') throw new AppError('backend_unavailable', 'Elasticsearch index is missing');
        const st = this.building;
        if (st)
          await this.mirror(st, [id], () =>
            this.es.delete({ index: st.index, id }, { ignore: [404], requestTimeout: this.writeTimeout }),
          );
        return r.result === 'deleted';
      }),
    );
  }

  /** Applies a live write to the index being built, ordered with the build's own batches. */
  private async mirror(st: Rebuilding, ids: string[], fn: () => Promise<unknown>): Promise<void> {
    for (const id of ids) st.touched.add(id);
    await st.enqueue(async () => {
      try {
        const r = await fn();
        if (Array.isArray(r) && r.some((x: UpsertResult) => !x.ok)) throw new Error('an item failed');
      } catch (e) {
        st.mirrorError ??= e;
      }
    });
  }

  // ------------------------------------------------------------------ reads

  async get(id: string): Promise<IndexRecord | null> {
    return (await this.getMany([id])).get(id) ?? null;
  }

  async getMany(ids: string[]): Promise<Map<string, IndexRecord>> {
    const out = new Map<string, IndexRecord>();
    if (!ids.length) return out;
    const r = await this.call('mget', () => this.es.mget<Source>({ index: this.names.alias, ids: [...new Set(ids)] }));
    for (const d of r.docs) {
      if ('error' in d && d.error) throw toAppError(new Error(`mget: ${d.error.type} ${d.error.reason ?? ''}`), 'mget');
      if ('found' in d && d.found && d._source) out.set(d._id, fromSource(d._source));
    }
    return out;
  }

  async count(): Promise<number> {
    const r = await this.call('count', () => this.es.count({ index: this.names.alias }));
    return r.count;
  }

  async groupSizes(groupIds: string[]): Promise<Map<string, number>> {
    const ids = [...new Set(groupIds)];
    const out = new Map<string, number>(ids.map((g) => [g, 0]));
    if (!ids.length) return out;
    const r = await this.call('group sizes', () =>
      this.es.search({
        index: this.names.alias,
        size: 0,
        query: { terms: { sourceGroupId: ids } },
        aggs: { groups: { terms: { field: 'sourceGroupId', size: ids.length } } },
      }),
    );
    const buckets = (r.aggregations?.groups as { buckets?: Array<{ key: string; doc_count: number }> } | undefined)?.buckets ?? [];
    for (const b of buckets) out.set(b.key, b.doc_count);
    return out;
  }

  async groupMembers(groupIds: string[], opts: SearchOptions): Promise<string[]> {
    const groups = [...new Set(groupIds)];
    const k = Math.min(ES_MAX_K, opts.k);
    if (!groups.length || k < 1) return [];
    // the source order without a script (none in the test distribution): factories first as their own
    // search, each side sorted by listedAt, price and id (a listing indexed before listedAt was mapped sorts last)
    const filter = [{ terms: { sourceGroupId: groups } }, ...filterClauses(opts.filters)];
    const factory = { term: { [FILTER_FIELDS.badges.name]: 'factory' } };
    const body = (query: estypes.QueryDslQueryContainer): estypes.MsearchMultisearchBody => ({
      size: k,
      _source: false,
      query,
      sort: [
        { listedAt: { order: 'asc', missing: '_last', unmapped_type: 'date' } },
        { [FILTER_FIELDS.price.name]: { order: 'asc', missing: '_last' } },
        { id: { order: 'asc' } },
      ],
    });
    const r = await this.call('group members', () =>
      this.es.msearch({
        searches: [
          { index: this.names.alias },
          body({ bool: { filter: [...filter, factory] } }),
          { index: this.names.alias },
          body({ bool: { filter, must_not: [factory] } }),
        ],
      }),
    );
    const ids: string[] = [];
    for (const res of r.responses) {
      if ('error' in res) throw toAppError(itemError(res), 'group members');
      for (const h of res.hits.hits) ids.push(h._id!);
    }
    return ids.slice(0, k);
  }

  async knn(vector: Float32Array, opts: SearchOptions): Promise<Hit[]> {
    const q = this.knnRequest(vector, opts);
    const r = await this.call('knn search', () => this.es.search<Source>({ index: this.names.alias, ...q.body }));
    return this.knnHits(vector, r.hits.hits, q.want, q.exact);
  }

  /** Several kNN searches in one round trip (_msearch); one failed search fails the call, as `knn` would. */
  async knnMany(vectors: Float32Array[], opts: SearchOptions): Promise<Hit[][]> {
    if (!vectors.length) return [];
    const qs = vectors.map((v) => this.knnRequest(v, opts));
    const r = await this.call('knn search', () =>
      this.es.msearch<Source>({ searches: qs.flatMap((q) => [{ index: this.names.alias }, q.body as estypes.MsearchMultisearchBody]) }),
    );
    return r.responses.map((res, i) => {
      // one search's failure inside a 200 _msearch: classified as the same failure of a lone search
      if ('error' in res) throw toAppError(itemError(res), 'knn search');
      return this.knnHits(vectors[i], res.hits.hits, qs[i].want, qs[i].exact);
    });
  }

  private knnRequest(vector: Float32Array, opts: SearchOptions) {
    const exact = this.opts.exactRescore ?? true;
    const want = Math.min(ES_MAX_K, Math.max(1, opts.k));
    const kEs = exact ? Math.min(ES_MAX_K, Math.max(want + 10, Math.ceil(want * (this.opts.oversample ?? 1.5)))) : want;
    return { exact, want, body: knnBody(vector, kEs, this.numCandidates(kEs), opts.filters, exact) };
  }

  private knnHits(vector: Float32Array, found: Array<estypes.SearchHit<Source>>, want: number, exact: boolean): Hit[] {
    const hits: Hit[] = found.map((h) => {
      const imgs = h._source?.images;
      if (exact && imgs?.length) {
        // the product's best image by the exact dot product, as the embedded backend computes it
        let best = -Infinity;
        let idx = 0;
        for (const im of imgs) {
          const v = fromB64(im.vector_b64);
          let s = 0;
          for (let i = 0; i < vector.length; i++) s += vector[i] * v[i];
          if (s > best) (best = s), (idx = im.idx);
        }
        return { id: h._id!, score: best, imageIdx: idx };
      }
      return { id: h._id!, score: cosineFromScore(h._score ?? 0) };
    });
    return hits.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).slice(0, want);
  }

  async knnText(vector: Float32Array, opts: SearchOptions): Promise<Hit[]> {
    const exact = this.opts.exactRescore ?? true;
    const want = Math.min(ES_MAX_K, Math.max(1, opts.k));
    const kEs = exact ? Math.min(ES_MAX_K, Math.max(want + 10, Math.ceil(want * (this.opts.oversample ?? 1.5)))) : want;
    const body = knnTextBody(vector, kEs, this.numCandidates(kEs), opts.filters, exact);
    const r = await this.call('text knn search', () => this.es.search<Source>({ index: this.names.alias, ...body }));
    const hits: Hit[] = r.hits.hits.map((h) => {
      const b = h._source?.text_vector_b64;
      if (exact && b) {
        // exact dot product from the stored float32 copy, as the embedded backend computes it
        return { id: h._id!, score: dot(vector, fromB64(b)) };
      }
      return { id: h._id!, score: cosineFromScore(h._score ?? 0) };
    });
    return hits.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).slice(0, want);
  }

  async text(tokens: string[], opts: SearchOptions): Promise<Hit[]> {
    if (!tokens.length) return [];
    const r = await this.call('text search', () => this.es.search({ index: this.names.alias, ...textBody(tokens, opts.k, opts.filters) }));
    return r.hits.hits.map((h) => ({ id: h._id!, score: Number(h.sort?.[0] ?? h._score ?? 0) }));
  }

  async *scan(batchSize: number): AsyncIterable<IndexRecord[]> {
    const size = Math.min(ES_MAX_K, Math.max(1, batchSize));
    let after: estypes.SortResults | undefined;
    for (;;) {
      const r = await this.call('scan', () =>
        this.es.search<Source>({
          index: this.names.alias,
          size,
          query: { match_all: {} },
          sort: [{ id: { order: 'asc' } }],
          track_total_hits: false,
          ...(after ? { search_after: after } : {}),
        }),
      );
      const hits = r.hits.hits;
      if (!hits.length) return;
      yield hits.map((h) => fromSource(h._source!));
      if (hits.length < size) return;
      after = hits[hits.length - 1].sort;
    }
  }

  // ------------------------------------------------------------------ meta

  private async readMeta(physical: string, key: string): Promise<Buffer | null> {
    const r = (await this.es.get<{ value: string }>(
      { index: this.names.meta, id: this.names.metaId(physical, key) },
      { ignore: [404], requestTimeout: this.writeTimeout },
    )) as estypes.GetGetResult<{ value: string }> & { error?: { type?: string } };
    if (r.error?.type === 'index_not_found_exception') throw new AppError('backend_unavailable', 'Elasticsearch meta index is missing');
    return r.found && r._source ? Buffer.from(r._source.value, 'base64') : null;
  }

  private async writeMeta(physical: string, key: string, value: Buffer): Promise<void> {
    await this.es.index(
      {
        index: this.names.meta,
        id: this.names.metaId(physical, key),
        document: { index: physical, key, value: value.toString('base64'), updatedAt: new Date().toISOString() },
      },
      { requestTimeout: this.writeTimeout },
    );
  }

  /** Meta belongs to the physical index the alias points at now (a rebuild copies it to the next one). */
  async getMeta(key: string): Promise<Buffer | null> {
    const physical = await this.currentIndex();
    return this.call('get meta', () => this.readMeta(physical, key));
  }

  async setMeta(key: string, value: Buffer): Promise<void> {
    const physical = await this.currentIndex();
    await this.call('set meta', () => this.writeMeta(physical, key, value));
    const st = this.building;
    if (st && !st.metaKeys.has(key)) await this.mirror(st, [], () => this.writeMeta(st.index, key, value));
  }

  private async metaDocsOf(physical: string, withValues: boolean): Promise<Array<{ id: string; key: string; value?: string }>> {
    // meta writes are not refreshed (reads are realtime GETs); a search needs a refresh first
    await this.es.indices.refresh({ index: this.names.meta }, { requestTimeout: this.adminTimeout });
    const r = await this.es.search<{ key: string; value: string }>(
      { index: this.names.meta, size: 1000, query: { term: { index: physical } }, _source: withValues ? ['key', 'value'] : ['key'] },
      { requestTimeout: this.adminTimeout },
    );
    return r.hits.hits.map((h) => ({ id: h._id!, key: h._source!.key, value: h._source!.value }));
  }

  private async deleteMetaOf(physical: string): Promise<void> {
    const docs = await this.metaDocsOf(physical, false);
    if (docs.length)
      await this.es.bulk({ index: this.names.meta, operations: docs.map((d) => ({ delete: { _id: d.id } })) }, { requestTimeout: this.adminTimeout });
  }

  // ------------------------------------------------------------------ rebuild

  /**
   * Full re-index into a new versioned index, then an atomic alias swap; the old index (and its meta) is
   * deleted only after the swap succeeded. While building, the new index has no replicas and no refreshes;
   * both are restored, then it is refreshed and force-merged before the swap, so searches never see a
   * half-built index. Live upserts/deletes through this backend during the build also go to the new index,
   * ordered with the build's batches; the build's version of an id written live meanwhile is skipped.
   */
  async rebuild(
    build: (write: WriteRecords, ctx: RebuildContext) => Promise<void>,
    opts: RebuildOptions & { forceMerge?: boolean } = {},
  ): Promise<RebuildResult & { from: string; to: string; oldDeleted: boolean }> {
    if (this.building) throw new AppError('invalid_request', `a rebuild into ${this.building.index} is already running`);
    const from = await this.currentIndex();
    const { to, old } = await this.call('rebuild: prepare', async () => {
      const versions = await listVersions(this.es, this.names, this.readTimeout);
      const to = this.names.physical(Math.max(0, ...versions.map((v) => v.version)) + 1);
      const s = await this.es.indices.getSettings({ index: from, flat_settings: true }, { requestTimeout: this.readTimeout });
      const old = (s[from]?.settings ?? {}) as Record<string, string | undefined>;
      await this.createIndex(to, true);
      return { to, old };
    });
    const st = new Rebuilding(to);
    this.building = st;
    try {
      await this.call('rebuild: copy meta', async () => {
        for (const d of await this.metaDocsOf(from, true)) await this.writeMeta(to, d.key, Buffer.from(d.value ?? '', 'base64'));
      });
      const write: WriteRecords = (records) =>
        st.enqueue(async () => {
          const fresh = records.filter((r) => !st.touched.has(r.product.id));
          const res = fresh.length ? await this.bulkIndex(to, fresh, false) : [];
          const byId = new Map(res.map((x) => [x.id, x]));
          st.superseded += records.length - fresh.length;
          return records.map((r) => {
            const x = byId.get(r.product.id) ?? { id: r.product.id, ok: true as const };
            if (byId.has(r.product.id)) {
              if (x.ok) st.written++;
              else st.failed++;
            }
            return x;
          });
        });
      const ctx: RebuildContext = {
        setMeta: async (key, value) => {
          st.metaKeys.add(key);
          await st.enqueue(() => this.call('rebuild: set meta', () => this.writeMeta(to, key, value)));
        },
      };
      await build(write, ctx);
      await st.drain();
      if (st.failed > (opts.maxFailures ?? 0)) throw new AppError('internal', `rebuild aborted: ${st.failed} records failed to write into ${to}`);
      if (st.mirrorError) throw new AppError('backend_unavailable', `rebuild aborted: a live write could not be mirrored into ${to}`);

      await this.call('rebuild: finish index', async () => {
        const settings: Record<string, unknown> = {
          'index.refresh_interval': old['index.refresh_interval'] ?? this.opts.refreshInterval ?? '1s',
        };
        if (old['index.auto_expand_replicas'] && old['index.auto_expand_replicas'] !== 'false')
          settings['index.auto_expand_replicas'] = old['index.auto_expand_replicas'];
        else settings['index.number_of_replicas'] = Number(old['index.number_of_replicas'] ?? this.opts.replicas ?? 1);
        await this.es.indices.putSettings({ index: to, settings }, { requestTimeout: this.adminTimeout });
        await this.es.indices.refresh({ index: to }, { requestTimeout: this.adminTimeout });
        if (opts.forceMerge ?? true) await this.es.indices.forcemerge({ index: to, max_num_segments: 1 }, { requestTimeout: this.adminTimeout });
        // all primaries active (replicas may still be copying: yellow)
        await this.es.cluster.health({ index: to, wait_for_status: 'yellow', timeout: '120s' }, { requestTimeout: this.adminTimeout });
        await this.es.indices.refresh({ index: to }, { requestTimeout: this.adminTimeout });
      });

      // one atomic request: the alias moves from the old index to the new one (fails if someone moved it)
      await this.call('rebuild: swap alias', () =>
        this.es.indices.updateAliases(
          { actions: [{ remove: { index: from, alias: this.names.alias, must_exist: true } }, { add: { index: to, alias: this.names.alias } }] },
          { requestTimeout: this.adminTimeout },
        ),
      );
    } catch (e) {
      // a timed-out swap may still have happened: never delete what the alias might point at
      const targets = await aliasTargets(this.es, this.names, this.readTimeout).catch(() => null);
      if (!targets?.includes(to)) {
        this.building = null;
        if (targets) {
          await this.es.indices.delete({ index: to }, { ignore: [404], requestTimeout: this.adminTimeout }).catch(() => undefined);
          await this.deleteMetaOf(to).catch(() => undefined);
        } else this.log(`elasticsearch: rebuild failed and the alias cannot be read; ${to} is left for inspection`);
        throw toAppError(e, 'rebuild');
      }
    }
    try {
      // live writes that resolved the alias to the old index just before the swap are mirrored too
      await Promise.allSettled([...this.inflight]);
      await st.drain();
      await this.es.indices.refresh({ index: to }, { requestTimeout: this.adminTimeout });
      if (st.mirrorError) this.log(`elasticsearch: rebuild: a live write during the swap could not be mirrored into ${to}: ${String(st.mirrorError)}`);
    } catch (e) {
      this.log(`elasticsearch: rebuild: after the swap to ${to}: ${String(e)}`);
    } finally {
      this.building = null;
    }
    this.log(`elasticsearch: rebuild swapped ${this.names.alias}: ${from} → ${to} (${st.written} written, ${st.superseded} superseded)`);
    let oldDeleted = false;
    try {
      await this.es.indices.delete({ index: from }, { requestTimeout: this.adminTimeout });
      await this.deleteMetaOf(from);
      oldDeleted = true;
    } catch (e) {
      this.log(`elasticsearch: rebuild: could not delete the old index ${from}: ${String(e)}`);
    }
    return { from, to, written: st.written, failed: st.failed, superseded: st.superseded, oldDeleted };
  }
}
