// Light/dark theme. 'system' follows prefers-color-scheme; the choice is stored in the backend's
// settings (key 'theme') and mirrored in localStorage so the first paint already has it.

export type ThemeChoice = 'system' | 'light' | 'dark';
const storageKey = 'reft-studio.theme';

function isChoice(v: unknown): v is ThemeChoice {
  return v === 'system' || v === 'light' || v === 'dark';
}

export class Theme {
  #current = $state<ThemeChoice>('system');
  /** A choice made on this page since it loaded: the stored value arriving later does not undo it. */
  #chosen = false;

  constructor() {
    try {
      const saved = localStorage.getItem(storageKey);
      if (isChoice(saved)) this.#current = saved;
    } catch {
      // storage may be unavailable (file:// with strict settings); the default is fine
    }
    this.#apply();
  }

  get current(): ThemeChoice {
    return this.#current;
  }

  set current(v: ThemeChoice) {
    this.#current = v;
    try {
      localStorage.setItem(storageKey, v);
    } catch {
      // ignore
    }
    this.#apply();
  }

  /** The person's choice (Settings): applied at once, and kept over a late adopt(). */
  choose(v: ThemeChoice): void {
    this.#chosen = true;
    this.current = v;
  }

  /**
   * Adopts a value read from the backend's settings; ignores anything that is not a choice, and
   * everything once the person chose on this page (the read may answer after the click).
   */
  adopt(v: unknown): void {
    if (!this.#chosen && isChoice(v) && v !== this.#current) this.current = v;
  }

  #apply(): void {
    if (typeof document === 'undefined') return;
    const root = document.documentElement;
    if (this.#current === 'system') delete root.dataset.theme;
    else root.dataset.theme = this.#current;
  }
}

export const theme = new Theme();
