// Hash routing (#/models, #/runs/…): works the same from file:// in Electron and over HTTP.

export const sections = [
  { id: 'models', label: 'Models' },
  { id: 'datasets', label: 'Datasets' },
  { id: 'train', label: 'Train' },
  { id: 'runs', label: 'Runs' },
  { id: 'adapters', label: 'Adapters' },
  { id: 'playground', label: 'Playground' },
  { id: 'settings', label: 'Settings' },
] as const;

export type SectionId = (typeof sections)[number]['id'];

const ids = new Set<string>(sections.map((s) => s.id));

export function parseHash(hash: string): { section: SectionId; rest: string[] } {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [first, ...rest] = parts;
  if (first && ids.has(first)) return { section: first as SectionId, rest };
  return { section: 'models', rest: [] };
}

export class Router {
  #route = $state(parseHash(typeof location === 'undefined' ? '' : location.hash));
  readonly section = $derived(this.#route.section);
  /** Path segments after the section, e.g. ['42'] for #/runs/42. */
  readonly rest = $derived(this.#route.rest);

  constructor() {
    if (typeof window !== 'undefined') {
      window.addEventListener('hashchange', () => {
        this.#route = parseHash(location.hash);
      });
    }
  }

  href(section: SectionId, ...rest: string[]): string {
    return `#/${[section, ...rest].map(encodeURIComponent).join('/')}`;
  }

  go(section: SectionId, ...rest: string[]): void {
    location.hash = this.href(section, ...rest);
  }

  /** Goes to the address in place of this one: Back skips it, and a reload does not come here. */
  replace(section: SectionId, ...rest: string[]): void {
    history.replaceState(history.state, '', this.href(section, ...rest));
    this.#route = parseHash(location.hash);
  }
}

export const router = new Router();
