// Versioned physical indices behind one alias: `<index>_v<N>` holds the data, the alias `<index>` is
// what every read and write names, so a rebuild can fill `<index>_v<N+1>` and swap the alias in one
// atomic request. Meta blobs live in `<index>_meta`, keyed by the physical index they belong to.
import type { Client } from '@elastic/elasticsearch';

export class IndexNames {
  readonly alias: string;
  readonly meta: string;
  private readonly re: RegExp;

  constructor(index: string) {
    if (!/^[a-z0-9][a-z0-9_.-]*$/.test(index) || index.length > 200)
      throw new Error(`ES index name "${index}" is not valid: lowercase letters, digits, _ . - only`);
    this.alias = index;
    this.meta = `${index}_meta`;
    this.re = new RegExp(`^${index.replace(/[.]/g, '\\.')}_v(\\d+)$`);
  }

  physical(version: number): string {
    return `${this.alias}_v${version}`;
  }

  versionOf(name: string): number | null {
    const m = this.re.exec(name);
    return m ? Number(m[1]) : null;
  }

  metaId(physical: string, key: string): string {
    return `${physical}/${key}`;
  }
}

/** The physical indices the alias points at (normally exactly one), [] when there is no alias. */
export async function aliasTargets(es: Client, names: IndexNames, timeoutMs: number): Promise<string[]> {
  const r = (await es.indices.getAlias({ name: names.alias }, { ignore: [404], requestTimeout: timeoutMs })) as Record<string, unknown>;
  return Object.entries(r)
    .filter(([, v]) => typeof v === 'object' && v !== null && names.alias in ((v as { aliases?: object }).aliases ?? {}))
    .map(([k]) => k);
}

/** Every `<index>_v<N>` that exists, by version ascending. */
export async function listVersions(es: Client, names: IndexNames, timeoutMs: number): Promise<Array<{ name: string; version: number }>> {
  const rows = await es.cat.indices(
    { index: `${names.alias}_v*`, expand_wildcards: ['open', 'closed'], format: 'json', h: 'index' },
    { requestTimeout: timeoutMs },
  );
  return (rows as Array<{ index?: string }>)
    .map((row) => row.index ?? '')
    .map((name) => ({ name, version: names.versionOf(name) }))
    .filter((x): x is { name: string; version: number } => x.version !== null)
    .sort((a, b) => a.version - b.version);
}
